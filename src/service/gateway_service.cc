// GatewayService: a call's checks and its upstream request (Prepare), the started call that
// redacts what comes back (CallState), the cache of bindings, and the watch over calls in flight
// (the kill switch) and over their records. What a call counts and records is in
// gateway_accounting.cc.
#include "service/gateway_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/ids.h"
#include "common/non_blocking.h"
#include "gateway/credential.h"
#include "gateway/forward_headers.h"
#include "gateway/redactor.h"
#include "service/binding_config.h"

namespace coffer {
namespace {

// A call's record waits at most this long, or until this many are queued, to be written with
// others.
constexpr std::chrono::milliseconds kRecordGather{5};
constexpr size_t kRecordBatch = 128;

}  // namespace

// A call checked and ready to start.
struct GatewayService::Prepared {
  RequestContext ctx;
  // The binding as resolved (shared with the cache, not copied); its config is valid.
  std::shared_ptr<const ResolvedBinding> resolved;
  const Binding& binding() const { return resolved->binding; }
  const BindingConfig& config() const { return *resolved->config; }
  ExecutionRecord record;
  gateway::UpstreamRequest upstream;
  std::unique_ptr<gateway::Redactor> redactor;
  std::shared_ptr<gateway::UpstreamBodySource> body_source;  // a streamed request body
  MonotonicTime start{};
};

// A started call: the upstream's sink, which redacts and passes on what comes back.
class GatewayService::CallState : public gateway::UpstreamSink,
                                  public GatewayCall,
                                  public std::enable_shared_from_this<CallState> {
 public:
  CallState(GatewayService& service, std::unique_ptr<Prepared> prepared,
            std::shared_ptr<GatewayStreamSink> sink, bool record_async)
      : service_(service),
        prepared_(std::move(prepared)),
        sink_(std::move(sink)),
        record_async_(record_async) {}

  const std::string& execution_id() const override { return prepared_->record.id; }
  const std::string& agent_id() const { return prepared_->record.agent_id; }
  const std::string& binding_id() const { return prepared_->record.binding_id; }
  uint64_t serial = 0;

  void Begin(gateway::UpstreamClient& client, gateway::UpstreamRequest request) {
    auto call = client.Start(std::move(request), shared_from_this());
    MutexLock lock(mu_);
    call_ = std::move(call);
    if (cancel_reason_.has_value() && call_ != nullptr) {
      auto c = call_;
      lock.Unlock();
      c->Cancel();
    }
  }

  void Cancel() override { Stop("stopped by the client"); }

  // Stops the call, saying why in its record.
  void Stop(std::string reason) {
    MutexLock lock(mu_);
    if (!cancel_reason_.has_value()) cancel_reason_ = std::move(reason);
    auto call = call_;
    lock.Unlock();
    if (call != nullptr) call->Cancel();
  }

  void OnHead(int status, std::vector<std::pair<std::string, std::string>> headers) override {
    std::vector<std::pair<std::string, std::string>> passed =
        gateway::FilterResponseHeaders(headers, prepared_->config().pass_response_headers);
    for (auto& [name, value] : passed) value = prepared_->redactor->RedactHeaderValue(value);
    prepared_->record.upstream_status = status;
    head_ = true;
    sink_->OnHead(status, std::move(passed));
  }

  bool OnBody(std::string_view bytes) override {
    prepared_->record.response_bytes += static_cast<int64_t>(bytes.size());
    std::string out = prepared_->redactor->Feed(bytes);
    if (out.empty()) return true;
    const bool more = sink_->OnBody(out);
    SecureWipe(out);
    return more;
  }

  void OnIdle() override { sink_->OnIdle(); }

  void OnDone(Status status) override {
    ExecutionRecord& r = prepared_->record;
    std::string tail = prepared_->redactor->Finish();
    if (!tail.empty() && head_ && status.ok()) {
      (void)sink_->OnBody(tail);
    }
    SecureWipe(tail);
    r.redactions = prepared_->redactor->count();
    if (prepared_->body_source) {
      r.request_bytes = static_cast<int64_t>(prepared_->body_source->taken());
    }
    r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        service_.deps_.monotonic_clock.Now() - prepared_->start)
                        .count();
    std::optional<std::string> reason;
    {
      MutexLock lock(mu_);
      reason = cancel_reason_;
      call_.reset();
    }
    if (status.code() == StatusCode::kCancelled && reason.has_value()) {
      r.status = "cancelled";
      r.error_message = *reason;
    } else if (status.code() == StatusCode::kCancelled) {
      r.status = "cancelled";
      r.error_message = "cancelled";
    } else if (head_) {
      r.status = "success";
      if (!status.ok()) r.error_message = std::string(status.message());
    } else {
      r.status = "error";
      r.error_message = std::string(status.message());
    }
    Status outcome = status;
    if (status.code() == StatusCode::kCancelled && reason.has_value()) {
      outcome = Status(StatusCode::kCancelled, *reason);
    }
    service_.Unregister(serial);
    if (record_async_) {
      service_.EnqueueRecord(prepared_->ctx, r, prepared_->binding(), status);
    }
    sink_->OnDone(outcome);
  }

  Prepared& prepared() { return *prepared_; }

 private:
  GatewayService& service_;
  std::unique_ptr<Prepared> prepared_;
  std::shared_ptr<GatewayStreamSink> sink_;
  const bool record_async_;
  bool head_ = false;  // on the transfer thread only
  Mutex mu_;
  std::shared_ptr<gateway::UpstreamCall> call_ COFFER_GUARDED_BY(mu_);
  std::optional<std::string> cancel_reason_ COFFER_GUARDED_BY(mu_);
};

GatewayService::GatewayService(const ServiceDeps& deps, SecretService& secrets,
                               gateway::UpstreamClient& upstream, GatewayOptions options)
    : deps_(deps), secrets_(secrets), upstream_(upstream), options_(options) {}

GatewayService::~GatewayService() { Stop(); }

void GatewayService::Start() {
  subscription_.emplace(
      deps_.store.Changes().Watch([this](const StoreChange& change) { OnStoreChange(change); }));
  caching_.store(true, std::memory_order_release);
  watcher_ = std::thread([this] { WatchLoop(); });
}

void GatewayService::OnStoreChange(const StoreChange& change) {
  const bool agent = change.kind == StoreChange::Kind::kPrincipal &&
                     change.principal_kind == PrincipalKind::kAgent;
  const bool relevant = change.kind == StoreChange::Kind::kBinding ||
                        change.kind == StoreChange::Kind::kEverything || agent;
  if (!relevant) return;
  {
    WriterMutexLock lock(cache_mu_);
    ++cache_generation_;
    if (change.kind == StoreChange::Kind::kEverything) {
      agents_.clear();
    } else {
      // A binding's change may move a name from one binding to another: the agent's whole
      // entry goes.
      agents_.erase(agent ? change.id : change.agent_id);
    }
  }
  MutexLock lock(mu_);
  if (in_flight_.empty()) return;
  recheck_ = true;
  wake_.NotifyAll();
}

StatusOr<std::shared_ptr<const GatewayService::ResolvedBinding>> GatewayService::Resolve(
    const std::string& agent_id, const std::string& ref) {
  const bool current = caching_.load(std::memory_order_acquire) && deps_.store.Changes().Current();
  uint64_t generation = 0;
  if (current) {
    ReaderMutexLock lock(cache_mu_);
    auto a = agents_.find(agent_id);
    if (a != agents_.end()) {
      if (!a->second.active) return Err(PermissionDeniedError("the agent is not active"));
      auto b = a->second.bindings.find(ref);
      if (b != a->second.bindings.end()) return b->second;
    }
    generation = cache_generation_;
  }
  auto agent = deps_.store.GetAgent(agent_id);
  if (!agent.has_value()) return Err(NotFoundAs(agent.error(), "agent not found"));
  const bool active = agent->is_active();
  std::shared_ptr<const ResolvedBinding> resolved;
  if (active) {
    auto binding = deps_.store.FindBinding(agent_id, ref);
    if (!binding.has_value()) return Err(NotFoundAs(binding.error(), "binding not found"));
    auto config = ParseBindingConfig(binding->config_json);
    auto guardrails = ParseBindingGuardrails(binding->guardrails_json);
    resolved = std::make_shared<const ResolvedBinding>(ResolvedBinding{
        .binding = std::move(*binding),
        .config = config.has_value() ? std::optional(std::move(*config)) : std::nullopt,
        .guardrails =
            guardrails.has_value() ? std::optional(std::move(*guardrails)) : std::nullopt});
  }
  if (current) {
    WriterMutexLock lock(cache_mu_);
    if (generation == cache_generation_) {  // nothing changed while the store was read
      constexpr size_t kMaxCachedAgents = 10000;
      if (agents_.size() >= kMaxCachedAgents && !agents_.contains(agent_id)) agents_.clear();
      CachedAgent& entry = agents_[agent_id];
      entry.active = active;
      if (resolved != nullptr) entry.bindings[ref] = resolved;
    }
  }
  if (!active) return Err(PermissionDeniedError("the agent is not active"));
  return resolved;
}

void GatewayService::Stop() {
  caching_.store(false, std::memory_order_release);
  subscription_.reset();
  {
    MutexLock lock(mu_);
    if (stop_) return;
    stop_ = true;
    wake_.NotifyAll();
  }
  if (watcher_.joinable()) watcher_.join();
  std::vector<std::shared_ptr<CallState>> calls;
  {
    MutexLock lock(mu_);
    for (auto& [serial, weak] : in_flight_) {
      if (auto call = weak.lock()) calls.push_back(std::move(call));
    }
  }
  for (auto& call : calls) call->Stop("the server is stopping");
  AwaitRecords();
}

size_t GatewayService::InFlight() const {
  MutexLock lock(mu_);
  return in_flight_.size();
}

void GatewayService::Register(const std::shared_ptr<CallState>& call) {
  MutexLock lock(mu_);
  call->serial = next_serial_++;
  in_flight_[call->serial] = call;
}

void GatewayService::Unregister(uint64_t serial) {
  MutexLock lock(mu_);
  in_flight_.erase(serial);
}

void GatewayService::EnqueueRecord(const RequestContext& ctx, const ExecutionRecord& record,
                                   const Binding& binding, const Status& outcome) {
  MutexLock lock(mu_);
  pending_records_.push_back(PendingRecord{ctx, record, binding.vault_id, binding.path, outcome});
  // The first record starts the gathering; a full batch ends it.
  if (pending_records_.size() == 1) {
    records_since_ = std::chrono::steady_clock::now();
    wake_.NotifyAll();
  } else if (pending_records_.size() == kRecordBatch) {
    wake_.NotifyAll();
  }
}

void GatewayService::WatchLoop() {
  MonotonicTime next_poll = deps_.monotonic_clock.Now() + options_.poll_interval;
  while (true) {
    bool check = false;
    bool drain = false;
    {
      MutexLock lock(mu_);
      if (stop_) return;
      // Records are gathered for a moment, so that many share a commit (and its pages).
      const auto records_due = [this]() COFFER_REQUIRES(mu_) {
        return pending_records_.size() >= kRecordBatch ||
               (!pending_records_.empty() &&
                std::chrono::steady_clock::now() >= records_since_ + kRecordGather);
      };
      if (!recheck_ && !records_due()) {
        const auto timeout =
            pending_records_.empty()
                ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      options_.poll_interval)
                : records_since_ + kRecordGather - std::chrono::steady_clock::now();
        (void)wake_.WaitFor(mu_, timeout, [this]() COFFER_REQUIRES(mu_) {
          return stop_ || recheck_ || pending_records_.size() >= kRecordBatch;
        });
      }
      if (stop_) return;
      check = recheck_;
      recheck_ = false;
      drain = records_due();
    }
    if (drain) DrainRecords();
    const MonotonicTime now = deps_.monotonic_clock.Now();
    if (check || now >= next_poll) {
      next_poll = now + options_.poll_interval;
      CheckInFlight();
    }
  }
}

void GatewayService::CheckInFlight() {
  std::vector<std::shared_ptr<CallState>> calls;
  {
    MutexLock lock(mu_);
    for (auto& [serial, weak] : in_flight_) {
      if (auto call = weak.lock()) calls.push_back(std::move(call));
    }
  }
  if (calls.empty()) return;
  std::unordered_map<std::string, std::optional<std::string>> agents;    // id -> why stopped
  std::unordered_map<std::string, std::optional<std::string>> bindings;  // id -> why stopped
  for (const auto& call : calls) {
    if (!agents.contains(call->agent_id())) {
      auto agent = deps_.store.GetAgent(call->agent_id());
      std::optional<std::string> why;
      if (!agent.has_value()) {
        if (agent.error().code() == StatusCode::kNotFound) why = "the agent was deleted";
      } else if (agent->is_revoked()) {
        why = "the agent was revoked";
      } else if (!agent->is_active()) {
        why = "the agent was deactivated";
      }
      agents[call->agent_id()] = why;
    }
    if (!bindings.contains(call->binding_id())) {
      auto binding = deps_.store.GetBinding(call->binding_id());
      std::optional<std::string> why;
      if (!binding.has_value()) {
        if (binding.error().code() == StatusCode::kNotFound) why = "the binding was deleted";
      } else if (!binding->is_active) {
        why = "the binding was deactivated";
      }
      bindings[call->binding_id()] = why;
    }
    const auto& agent_why = agents[call->agent_id()];
    const auto& binding_why = bindings[call->binding_id()];
    if (agent_why.has_value()) {
      call->Stop(*agent_why);
    } else if (binding_why.has_value()) {
      call->Stop(*binding_why);
    }
  }
}

StatusOr<std::unique_ptr<GatewayService::Prepared>> GatewayService::Prepare(
    const RequestContext& ctx, GatewayCallRequest& request) {
  if (ctx.principal.kind != PrincipalKind::kAgent) {
    return Err(PermissionDeniedError("only an agent calls through its bindings"));
  }
  const std::string& agent_id = ctx.principal.id;
  if (request.binding.empty() || request.binding.size() > 64) {
    return Err(NotFoundError("binding not found"));
  }
  ASSIGN_OR_RETURN(const std::shared_ptr<const ResolvedBinding> resolved,
                   Resolve(agent_id, request.binding));
  const Binding* binding = &resolved->binding;
  const auto refuse = [&](const Status& why) -> Status {
    return RecordRefusal(ctx, *binding, request, why);
  };
  if (!binding->is_active) return Err(refuse(PermissionDeniedError("the binding is deactivated")));
  const std::optional<BindingConfig>& config = resolved->config;
  const std::optional<BindingGuardrails>& guardrails = resolved->guardrails;
  if (!config.has_value() || !guardrails.has_value()) {
    return Err(refuse(FailedPreconditionError("the binding's stored config no longer validates")));
  }
  std::transform(request.method.begin(), request.method.end(), request.method.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (std::find(guardrails->allowed_methods.begin(), guardrails->allowed_methods.end(),
                request.method) == guardrails->allowed_methods.end()) {
    return Err(refuse(PermissionDeniedError(fmt::format(
        "method {} is not allowed by the binding's guardrails", request.method.substr(0, 16)))));
  }
  auto path = NormaliseUpstreamPath(request.path);
  if (!path.has_value()) return Err(refuse(path.error()));
  if (Status q = ValidateUpstreamQuery(request.query); !q.ok()) return Err(refuse(q));
  const bool path_allowed =
      std::any_of(guardrails->allowed_paths.begin(), guardrails->allowed_paths.end(),
                  [&](const std::string& glob) { return BindingPathMatches(glob, *path); });
  if (!path_allowed) {
    return Err(refuse(PermissionDeniedError("path is not allowed by the binding's guardrails")));
  }
  const std::optional<uint64_t> declared =
      request.body_source ? request.body_source->length() : std::optional(request.body.size());
  if (declared.has_value() && *declared > static_cast<uint64_t>(guardrails->max_request_bytes)) {
    return Err(refuse(OutOfRangeError(fmt::format(
        "body exceeds the binding's max_request_bytes ({})", guardrails->max_request_bytes))));
  }
  auto headers = gateway::FilterRequestHeaders(request.headers);
  if (!headers.has_value()) return Err(refuse(headers.error()));
  std::vector<UseCounter> counted;
  if (Status count = CountUse(*binding, guardrails->max_requests_per_minute,
                              guardrails->max_requests_per_day, agent_id, &counted);
      !count.ok()) {
    return Err(refuse(count));
  }
  // From here a refusal on an I/O thread that would have to wait (to write its record) throws
  // this attempt away, and it runs again on a worker thread: what it counted goes back first.
  const auto refuse_counted = [&](const Status& why) -> Status {
    Status refused = refuse(why);
    if (NonBlockingScope::Refused()) GiveBack(counted);
    return refused;
  };
  auto secret = secrets_.UseForBinding(ctx, binding->vault_id, binding->path);
  if (!secret.has_value()) {
    Status why = secret.error();
    if (why.code() == StatusCode::kPermissionDenied) {
      why = PermissionDeniedError(
          "the agent may not use the binding's secret (it needs use or read on its path)");
    }
    return Err(refuse_counted(why));
  }

  auto p = std::make_unique<Prepared>();
  p->ctx = ctx;
  p->start = deps_.monotonic_clock.Now();
  p->resolved = resolved;
  ExecutionRecord& r = p->record;
  r.created_at = deps_.clock.Now();
  r.id = NewUuidV7(deps_.random, r.created_at);  // records are written in time order
  r.agent_id = agent_id;
  r.binding_id = binding->id;
  r.binding_name = binding->name;
  r.mode = request.mode;
  r.method = request.method;
  r.path = config->base_path + "/" + *path;
  r.secret_version = secret->meta.version;
  r.request_bytes = static_cast<int64_t>(request.body.size());

  gateway::UpstreamRequest& up = p->upstream;
  up.method = request.method;
  up.url = config->base_url + "/" + *path;
  if (config->auth_type == "query") {
    request.query = DropQueryParam(request.query, config->auth_query_param);
  }
  if (!request.query.empty()) up.url += "?" + request.query;
  up.headers = std::move(*headers);
  for (const auto& [name, value] : config->headers) {
    std::erase_if(up.headers, [&name](const auto& h) { return h.first == name; });
    up.headers.emplace_back(name, value);
  }
  up.body = std::move(request.body);
  up.body_source = request.body_source;
  p->body_source = request.body_source;
  up.max_request_bytes = static_cast<size_t>(guardrails->max_request_bytes);
  up.allow_http = config->scheme == "http";
  up.max_duration = std::chrono::milliseconds(guardrails->max_duration_ms);
  up.max_response_bytes = static_cast<size_t>(guardrails->max_response_bytes);
  gateway::AuthSpec auth{.type = config->auth_type,
                         .header = config->auth_header,
                         .prefix = config->auth_prefix,
                         .query_param = config->auth_query_param,
                         .basic_user = config->basic_user};
  const std::string_view value(reinterpret_cast<const char*>(secret->value.data()),
                               secret->value.size());
  if (Status attached = gateway::AttachCredential(auth, value, up.url, up.headers);
      !attached.ok()) {
    return Err(refuse_counted(attached));
  }
  p->redactor = std::make_unique<gateway::Redactor>(value, config->basic_user);
  secrets_.NoteBindingUse(ctx, secret->meta);
  return p;
}

std::shared_ptr<GatewayService::CallState> GatewayService::Launch(
    std::unique_ptr<Prepared> prepared, std::shared_ptr<GatewayStreamSink> sink,
    bool record_async) {
  gateway::UpstreamRequest request = std::move(prepared->upstream);
  auto state =
      std::make_shared<CallState>(*this, std::move(prepared), std::move(sink), record_async);
  Register(state);
  state->Begin(upstream_, std::move(request));
  return state;
}

namespace {

// Collects a whole answer for Execute.
class CollectSink : public GatewayStreamSink {
 public:
  void OnHead(int status, std::vector<std::pair<std::string, std::string>> headers) override {
    std::lock_guard lock(mu_);
    status_ = status;
    headers_ = std::move(headers);
  }
  bool OnBody(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    body_.append(bytes);
    return true;
  }
  void OnDone(Status status) override {
    std::lock_guard lock(mu_);
    done_ = std::move(status);
    cv_.notify_all();
  }
  Status Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_.has_value(); });
    return *done_;
  }
  // After Wait.
  int status_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Status> done_;
};

}  // namespace

StatusOr<GatewayCallResult> GatewayService::Execute(const RequestContext& ctx,
                                                    std::string_view agent_id,
                                                    GatewayCallRequest request) {
  if (ctx.principal.kind != PrincipalKind::kAgent ||
      (agent_id != "self" && agent_id != ctx.principal.id)) {
    return Err(PermissionDeniedError("only the agent itself executes through its bindings"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Prepared> prepared, Prepare(ctx, request));
  const std::string vault_id = prepared->binding().vault_id;
  const std::string secret_path = prepared->binding().path;
  auto sink = std::make_shared<CollectSink>();
  auto state = Launch(std::move(prepared), sink, /*record_async=*/false);
  const Status done = sink->Wait();
  const ExecutionRecord& r = state->prepared().record;
  RETURN_IF_ERROR(Record(ctx, r, vault_id, secret_path, done));
  GatewayCallResult result;
  result.execution_id = r.id;
  result.status = r.status == "success" ? "success" : "error";
  result.status_code = sink->status_;
  result.headers = std::move(sink->headers_);
  result.body = std::move(sink->body_);
  result.error = r.error_message;
  result.duration_ms = r.duration_ms;
  result.redactions = r.redactions;
  return result;
}

StatusOr<std::shared_ptr<GatewayCall>> GatewayService::Stream(
    const RequestContext& ctx, GatewayCallRequest request,
    std::shared_ptr<GatewayStreamSink> sink) {
  ASSIGN_OR_RETURN(std::unique_ptr<Prepared> prepared, Prepare(ctx, request));
  return std::shared_ptr<GatewayCall>(Launch(std::move(prepared), std::move(sink), true));
}

}  // namespace coffer
