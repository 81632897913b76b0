// The transparent proxy: ANY /v1/proxy/{binding}/{*path}. An agent's unmodified HTTP or LLM SDK
// points its base URL here and authenticates with its own Coffer key or JWT (Authorization:
// Bearer, or x-api-key as the Anthropic SDK sends it); the call goes to the binding's base_url
// with the agent's credential removed and the real one attached. The answer waits for the
// upstream's head without holding a worker thread (a Deferred), then streams back (a
// BodyStream) as the upstream sends it, redacted. Refusals before the upstream answers are
// problem+json: 404 (no binding), 403 (not usable, egress refused), 429 (Retry-After), 502, 504.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "api/handler.h"
#include "api/routes.h"
#include "common/mutex.h"
#include "common/non_blocking.h"
#include "http/problem_json.h"
#include "http/request_body.h"

namespace coffer::api {
namespace {

constexpr std::string_view kPrefix = "/v1/proxy/";
// The longest a proxied call waits for its head past the longest a binding allows.
constexpr std::chrono::milliseconds kHeadWait{610'000};

http::Response TooLargeProblem(const Status& why) {
  return http::Problem(413, "payload-too-large", "Payload too large", why.message());
}

// The problem for a call that ended before its head came.
http::Response UpstreamProblem(const Status& why) {
  switch (why.code()) {
    case StatusCode::kDeadlineExceeded:
      return http::Problem(504, "upstream-timeout", "Upstream timed out", why.message());
    case StatusCode::kPermissionDenied:
      return http::Problem(403, "egress-refused", "Destination refused", why.message());
    case StatusCode::kCancelled:
      return http::Problem(403, "binding-stopped", "Call stopped", why.message());
    case StatusCode::kOutOfRange:  // the streamed request body grew over a limit
      return TooLargeProblem(why);
    default:
      return http::Problem(502, "bad-gateway", "Upstream unreachable", why.message());
  }
}

// A refusal before the call started.
http::Response RefusalProblem(const Status& why) {
  if (why.code() == StatusCode::kOutOfRange) return TooLargeProblem(why);
  if (why.code() == StatusCode::kResourceExhausted) {
    http::Response r = http::Problem(429, "rate-limited", "Rate limited", why.message());
    const auto retry = why.payload().retry_after;
    if (retry.count() > 0) {
      r.headers.emplace_back(
          "Retry-After", std::to_string(std::chrono::ceil<std::chrono::seconds>(retry).count()));
    }
    return r;
  }
  return http::ProblemFromStatus(why);
}

// The agent's request body as the server reads it, for the upstream call: Read never blocks;
// the server reads on from the client as Read makes room.
class StreamedBody final : public gateway::UpstreamBodySource {
 public:
  explicit StreamedBody(std::shared_ptr<http::RequestBodyStream> body) : body_(std::move(body)) {}
  ~StreamedBody() override { body_->StopListening(); }
  StreamedBody(const StreamedBody&) = delete;
  StreamedBody& operator=(const StreamedBody&) = delete;

  Result Read(char* out, size_t max, size_t* n) override {
    const http::RequestBodyStream::State state = body_->Take(out, max, n);
    taken_.fetch_add(*n, std::memory_order_relaxed);
    if (*n > 0) return Result::kData;
    switch (state) {
      case http::RequestBodyStream::State::kComplete:
        return Result::kEnd;
      case http::RequestBodyStream::State::kFailed:
        return Result::kFailed;
      case http::RequestBodyStream::State::kOpen:
        break;
    }
    return Result::kWait;
  }
  void SetWake(std::function<void()> wake) override {
    if (wake) {
      body_->Listen(std::move(wake));
    } else {
      body_->StopListening();
    }
  }
  Status failure() const override { return body_->failure(); }
  void Close() override { body_->Abandon(); }
  std::optional<uint64_t> length() const override { return body_->declared_length(); }
  uint64_t taken() const override { return taken_.load(std::memory_order_relaxed); }

 private:
  const std::shared_ptr<http::RequestBodyStream> body_;
  std::atomic<uint64_t> taken_{0};
};

// Between the gateway's call (upstream thread) and the HTTP server: the head wakes the waiting
// request once the bytes that came with it are in the stream too (OnIdle), so that the server
// sends them together; the body goes into the stream.
class ProxyBridge : public GatewayStreamSink {
 public:
  ProxyBridge()
      : wake_(std::make_shared<http::WakeSignal>()),
        stream_(std::make_shared<http::BodyStream>()) {}

  void OnHead(int status, std::vector<std::pair<std::string, std::string>> headers) override {
    MutexLock lock(mu_);
    status_ = status;
    headers_ = std::move(headers);
  }
  bool OnBody(std::string_view bytes) override { return stream_->Write(bytes); }
  void OnIdle() override {
    {
      MutexLock lock(mu_);
      if (announced_ || status_ == 0) return;
      announced_ = true;
    }
    wake_->Fire();
  }
  void OnDone(Status status) override {
    bool head = false;
    {
      MutexLock lock(mu_);
      head = status_ != 0;
      done_ = status;
    }
    if (head) {
      if (status.ok()) {
        stream_->Finish();
      } else {
        stream_->Fail();
      }
    }
    wake_->Fire();
  }

  // Weak: the call holds this bridge as its sink, and the upstream holds the call while it runs;
  // a strong reference back would keep both alive for ever once the call ended.
  void SetCall(const std::shared_ptr<GatewayCall>& call) {
    MutexLock lock(mu_);
    call_ = call;
  }
  void CancelUnlessDelivered() {
    std::shared_ptr<GatewayCall> call;
    {
      MutexLock lock(mu_);
      if (delivered_) return;
      call = call_.lock();
    }
    if (call != nullptr) call->Cancel();
  }
  void Cancel() {
    std::shared_ptr<GatewayCall> call;
    {
      MutexLock lock(mu_);
      call = call_.lock();
    }
    if (call != nullptr) call->Cancel();
  }

  // The answer, once the head came or the call ended; nullopt while neither.
  std::optional<http::Response> Answer() {
    MutexLock lock(mu_);
    if (status_ != 0) {
      http::Response r;
      r.status = status_;
      r.content_type.clear();
      for (auto& [name, value] : headers_) {
        if (name == "content-type") {
          r.content_type = value;
        } else if (name == "x-request-id") {
          // The server's own X-Request-Id names this request; the upstream's keeps its value.
          r.headers.emplace_back("x-upstream-request-id", value);
        } else {
          r.headers.emplace_back(name, value);
        }
      }
      r.stream = stream_;
      delivered_ = true;
      return r;
    }
    if (done_.has_value()) return UpstreamProblem(*done_);
    return std::nullopt;
  }

  std::shared_ptr<http::WakeSignal> wake() const { return wake_; }
  std::shared_ptr<http::BodyStream> stream() const { return stream_; }

 private:
  const std::shared_ptr<http::WakeSignal> wake_;
  const std::shared_ptr<http::BodyStream> stream_;
  Mutex mu_;
  int status_ COFFER_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::string, std::string>> headers_ COFFER_GUARDED_BY(mu_);
  std::optional<Status> done_ COFFER_GUARDED_BY(mu_);
  std::weak_ptr<GatewayCall> call_ COFFER_GUARDED_BY(mu_);
  bool delivered_ COFFER_GUARDED_BY(mu_) = false;
  bool announced_ COFFER_GUARDED_BY(mu_) = false;  // the head's wake fired
};

// Cancels the call when the wait for its head ends without the answer being sent (the client
// went away, the server stopped).
class WaitGuard {
 public:
  explicit WaitGuard(std::shared_ptr<ProxyBridge> bridge) : bridge_(std::move(bridge)) {}
  WaitGuard(const WaitGuard&) = delete;
  WaitGuard& operator=(const WaitGuard&) = delete;
  ~WaitGuard() { bridge_->CancelUnlessDelivered(); }

 private:
  const std::shared_ptr<ProxyBridge> bridge_;
};

// The raw path after the binding and the raw query of a proxied request's target.
void SplitTarget(std::string_view target, std::string& path, std::string& query) {
  const size_t q = target.find('?');
  if (q != std::string_view::npos) {
    query = std::string(target.substr(q + 1));
    target = target.substr(0, q);
  }
  if (target.starts_with(kPrefix)) target.remove_prefix(kPrefix.size());
  const size_t slash = target.find('/');
  path = slash == std::string_view::npos ? "" : std::string(target.substr(slash + 1));
}

http::Response Proxy(const ApiServices& api, const http::Request& req,
                     const http::RouteParams& params) {
  RequestContext ctx = AnonymousContext(req, api.trusted_proxies);
  std::optional<std::string_view> authorization = req.Header("authorization");
  std::string from_api_key;
  if (!authorization.has_value()) {
    if (auto key = req.Header("x-api-key")) {
      from_api_key = "Bearer " + std::string(*key);
      authorization = from_api_key;
    }
  }
  auto principal = api.auth.AuthenticateRequest(ctx, authorization);
  SecureWipe(from_api_key);
  if (!principal.has_value()) return http::ProblemFromStatus(principal.error());
  ctx.principal = std::move(*principal);
  const auto refuse = [&](const Status& why) {
    if (!ctx.audited) {
      Status recorded = api.audit_log.Record(ctx, api.audit_log.NewEvent(ctx, "binding.use"), why);
      if (!recorded.ok()) return http::ProblemFromStatus(recorded);
    }
    http::Response r = RefusalProblem(why);
    r.actor_id = ctx.principal.id;
    return r;
  };
  if (ctx.principal.kind != PrincipalKind::kAgent) {
    return refuse(PermissionDeniedError("the proxy is for agents: authenticate with an agent key"));
  }
  if (!req.before_send_honoured) {
    return refuse(UnimplementedError("the proxy needs a streaming HTTP server"));
  }
  GatewayCallRequest call;
  call.binding = Param(params, "binding");
  call.method = req.method;
  SplitTarget(req.target, call.path, call.query);
  call.headers = req.headers;
  call.body = req.body;
  if (req.body_stream) call.body_source = std::make_shared<StreamedBody>(req.body_stream);
  call.mode = "proxy";
  auto bridge = std::make_shared<ProxyBridge>();
  std::shared_ptr<gateway::UpstreamBodySource> body_source = call.body_source;
  auto started = api.gateway.Stream(ctx, std::move(call), bridge);
  if (!started.has_value()) {
    // The server stops reading what will not be sent; but an attempt thrown away (it runs again
    // on a worker thread) leaves the body as it was.
    if (body_source && !NonBlockingScope::Refused()) body_source->Close();
    return refuse(started.error());
  }
  bridge->SetCall(*started);
  bridge->stream()->OnAbandoned([weak = std::weak_ptr<ProxyBridge>(bridge)] {
    if (auto b = weak.lock()) b->Cancel();
  });
  http::Response r;
  r.actor_id = ctx.principal.id;
  r.deferred = std::make_shared<http::Deferred>();
  r.deferred->wake = bridge->wake();
  r.deferred->timeout = kHeadWait;
  r.deferred->hold = std::make_shared<WaitGuard>(bridge);
  r.deferred->quick = true;  // Answer and Cancel only take a lock
  r.deferred->resume = [bridge](bool woken) -> std::optional<http::Response> {
    if (auto answer = bridge->Answer()) return answer;
    if (woken) return std::nullopt;
    bridge->Cancel();
    return http::Problem(504, "upstream-timeout", "Upstream timed out",
                         "no answer from the upstream in time");
  };
  return r;
}

}  // namespace

void RegisterProxyRoutes(http::Router& router, const ApiServices& api) {
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    // ApiServices holds references only: a copy outlives the registration's argument.
    const auto handler = [api](const http::Request& req, const http::RouteParams& params) {
      return Proxy(api, req, params);
    };
    // The body streams to the upstream as it arrives. The handler waits for nothing but the
    // store's reads (and its writer when a limit's lease runs out or a call is refused: it then
    // runs again on a worker thread), so it may run on the I/O thread.
    const http::RouteOptions streamed{.io_thread = true, .stream_body = true};
    router.Add(method, "/v1/proxy/{binding}/{*path}", handler, streamed);
    router.Add(method, "/v1/proxy/{binding}", handler, streamed);
  }
}

}  // namespace coffer::api
