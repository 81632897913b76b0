// CurlEngine: the transfer loop (queues, ready sockets, libcurl's timer), each call's libcurl
// options and callbacks (head lines, body bytes, a streamed upload), and how a call ends.
#include "gateway/curl_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "gateway/forward_headers.h"
#include "gateway/http_client.h"
#include "gateway/text_encoding.h"

namespace coffer::gateway {

namespace {

// A head larger than this ends the call with kResourceExhausted.
constexpr size_t kMaxHeadBytes = 256 * 1024;
constexpr std::chrono::milliseconds kMaxConnectTime{5000};
constexpr long kMaxIdleConnections = 256;  // per multi handle

}  // namespace

CurlEngine::CurlEngine(const EgressGuard& guard, size_t max_concurrent, Driver driver)
    : guard_(guard), max_concurrent_(std::max<size_t>(max_concurrent, 1)), driver_(driver) {
  InitCurlOnce();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) return;  // out of memory: not ok()
  // Idle connections kept for reuse. libcurl's default (four per handle on the multi handle)
  // follows the calls in flight: each dip in load closed connections the next rise opened
  // again (one call in eight connected afresh at 64 calls in flight).
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, kMaxIdleConnections);
  loop_ = CurlSocketLoop::Open(multi_);
  if (loop_ != nullptr && driver == Driver::kOwnThread) thread_ = std::thread([this] { Run(); });
}

CurlEngine::~CurlEngine() {
  if (multi_ != nullptr) curl_multi_cleanup(multi_);  // (may still tell the loop of sockets)
  loop_.reset();
}

thread_local bool CurlEngine::driving_ = false;

void CurlCall::Cancel() {
  if (cancel_requested_.exchange(true, std::memory_order_acq_rel)) return;
  if (std::shared_ptr<CurlEngine> engine = engine_.lock()) {
    engine->RequestCancel(shared_from_this());
  }
}

namespace {

Status CancelledError(const CurlCall& call) {
  return {StatusCode::kCancelled, fmt::format("the call to {} was cancelled",
                                              call.host.empty() ? "the upstream" : call.host)};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Notes that the call's sink is due an OnIdle at the end of this round.
void Touch(CurlCall& call) {
  if (call.touched) return;
  call.touched = true;
  if (std::shared_ptr<CurlEngine> engine = call.engine().lock()) engine->touched_.push_back(&call);
}

void SendHead(CurlCall& call) {
  Touch(call);
  call.head_sent = true;
  if (call.status == 0) {
    long code = 0;
    curl_easy_getinfo(call.easy.get(), CURLINFO_RESPONSE_CODE, &code);
    call.status = static_cast<int>(code);
  }
  call.sink->OnHead(call.status, std::move(call.head));
  call.head.clear();
}

// One line of a head: the status line, a field, or the blank line that ends it. libcurl passes
// every head, the interim 1xx ones too, and then any trailers.
size_t OnHeaderLine(char* data, size_t size, size_t count, void* user) {
  auto& call = *static_cast<CurlCall*>(user);
  const size_t n = size * count;
  if (call.head_sent) return n;  // trailers: not passed on
  call.head_bytes += n;
  if (call.head_bytes > kMaxHeadBytes) {
    call.over_bound = true;
    return 0;
  }
  const std::string_view line = Trim(std::string_view(data, n));
  if (line.starts_with("HTTP/")) {
    call.head.clear();
    call.status = 0;
    const size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      for (char c : line.substr(space + 1, 3)) {
        if (c < '0' || c > '9') break;
        call.status = call.status * 10 + (c - '0');
      }
    }
    return n;
  }
  if (line.empty()) {
    if (call.status >= 100 && call.status < 200) {  // an interim head: wait for the final one
      call.head.clear();
      call.status = 0;
      return n;
    }
    SendHead(call);
    return n;
  }
  if ((data[0] == ' ' || data[0] == '\t') && !call.head.empty()) {  // an obsolete folded line
    call.head.back().second.append(" ").append(line);
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  call.head.emplace_back(AsciiLower(Trim(line.substr(0, colon))),
                         std::string(Trim(line.substr(colon + 1))));
  return n;
}

size_t OnBodyBytes(char* data, size_t size, size_t count, void* user) {
  auto& call = *static_cast<CurlCall*>(user);
  const size_t n = size * count;
  if (call.cancel_requested()) {
    call.sink_stopped = true;
    return 0;
  }
  if (!call.head_sent) SendHead(call);
  const size_t room = call.request.max_response_bytes - call.received;
  const size_t give = std::min(n, room);
  if (give > 0) {
    call.received += give;
    Touch(call);
    if (!call.sink->OnBody(std::string_view(data, give))) {
      call.sink_stopped = true;
      return 0;
    }
  }
  if (n > room) {
    call.over_bound = true;
    return 0;  // stops the transfer: the rest is not read
  }
  return n;
}

// The next bytes of a streamed request body: as many as have come, or a pause until more do.
size_t OnUploadBytes(char* out, size_t size, size_t count, void* user) {
  auto& call = *static_cast<CurlCall*>(user);
  if (call.cancel_requested()) return CURL_READFUNC_ABORT;
  size_t n = 0;
  switch (call.request.body_source->Read(out, size * count, &n)) {
    case UpstreamBodySource::Result::kData:
      call.sent += n;
      if (call.sent > call.request.max_request_bytes) {
        call.upload_too_large = true;
        return CURL_READFUNC_ABORT;
      }
      return n;
    case UpstreamBodySource::Result::kWait:
      call.upload_paused = true;
      return CURL_READFUNC_PAUSE;
    case UpstreamBodySource::Result::kEnd:
      return 0;
    case UpstreamBodySource::Result::kFailed:
      call.upload_failed = call.request.body_source->failure();
      return CURL_READFUNC_ABORT;
  }
  return CURL_READFUNC_ABORT;
}

bool HasHeader(const HeaderList& headers, std::string_view name) {
  return std::ranges::any_of(headers,
                             [name](const auto& h) { return AsciiLower(h.first) == name; });
}

}  // namespace

void CurlEngine::Run() {
  // Waits for a socket libcurl waits on, its timer, or the queues. A caller's thread may drive
  // the transfers meanwhile (Start): its socket and timer changes reach this wait.
  while (Round(loop_->Wait())) {
  }
  EndAll();
}

bool CurlEngine::Round(const std::vector<std::pair<curl_socket_t, int>>& ready) {
  MutexLock xfer(xfer_mu_);
  driving_ = true;
  std::vector<std::shared_ptr<CurlCall>> starting;
  std::vector<std::shared_ptr<CurlCall>> cancelling;
  std::vector<std::shared_ptr<CurlCall>> unpausing;
  bool stopping = false;
  {
    MutexLock lock(mu_);
    stopping = stopping_;
    while (!stopping && !pending_.empty() && active_.size() + starting.size() < max_concurrent_) {
      starting.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    cancelling.swap(cancels_);
    unpausing.swap(unpauses_);
  }
  if (stopping) {
    driving_ = false;
    return false;
  }
  for (const auto& call : starting) Begin(call);
  for (const auto& call : unpausing) {
    if (active_.contains(call.get()) && call->upload_paused) {
      call->upload_paused = false;
      (void)curl_easy_pause(call->easy.get(), CURLPAUSE_CONT);  // may read at once
    }
  }
  for (const auto& call : cancelling) {
    if (active_.contains(call.get())) {
      End(call.get(), CancelledError(*call));
      continue;
    }
    bool queued = false;
    {
      MutexLock lock(mu_);
      auto it = std::ranges::find(pending_, call);
      if (it != pending_.end()) {
        pending_.erase(it);
        queued = true;
      }
    }
    if (queued) Tell(*call, CancelledError(*call));  // else: it had ended already
  }
  int running = 0;
  for (const auto& [fd, flags] : ready) {
    (void)curl_multi_socket_action(multi_, fd, flags, &running);
  }
  // Timeouts due (libcurl may ask for one at once after any action), then the round's end.
  DriveDue();
  bool more = false;
  {
    MutexLock lock(mu_);
    // A call that ended may have freed a place for a queued one.
    more = !pending_.empty() && active_.size() < max_concurrent_;
  }
  driving_ = false;
  if (more) Wake();
  return true;
}

void CurlEngine::EndAll() {
  MutexLock xfer(xfer_mu_);
  driving_ = true;
  while (!active_.empty()) {
    CurlCall* call = active_.begin()->first;
    End(call, CancelledError(*call));
  }
  std::deque<std::shared_ptr<CurlCall>> queued;
  {
    MutexLock lock(mu_);
    queued.swap(pending_);
    cancels_.clear();
  }
  for (const auto& call : queued) Tell(*call, CancelledError(*call));
  driving_ = false;
}

void CurlEngine::DriveDue() {
  // Every timeout due, a call just begun included (libcurl asks for one at once when a handle
  // is added): this sends its request.
  int running = 0;
  (void)loop_->TakeTimeoutNow();
  (void)curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  if (loop_->TakeTimeoutNow()) {  // libcurl wants another round at once
    (void)curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  }
  if (loop_->TakeTimeoutNow()) loop_->TimeoutSoon();  // still: the transfer thread takes it
  Settle();
}

void CurlEngine::Settle() {
  std::vector<std::pair<CURL*, CURLcode>> finished;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg == CURLMSG_DONE) finished.emplace_back(msg->easy_handle, msg->data.result);
  }
  for (const auto& [easy, rc] : finished) {
    char* user = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &user);
    auto* call = reinterpret_cast<CurlCall*>(user);
    if (call != nullptr && active_.contains(call)) End(call, Outcome(*call, rc));
  }
  // A call that ended was told so (End clears its mark): the others hear that this round's
  // head and bytes are all passed on.
  std::vector<CurlCall*> touched;
  touched.swap(touched_);
  for (CurlCall* call : touched) {
    if (active_.contains(call) && call->touched) {  // (an ended call may be gone)
      call->touched = false;
      if (call->sink) call->sink->OnIdle();
    }
  }
}

void CurlEngine::Tell(CurlCall& call, Status status) {
  if (call.request.body_source) {
    call.request.body_source->SetWake(nullptr);
    call.request.body_source->Close();
  }
  call.WipeRequest();
  // The sink goes with the call's end: a sink that holds its call makes no cycle.
  std::shared_ptr<UpstreamSink> sink = std::move(call.sink);
  if (sink) sink->OnDone(std::move(status));
}

void CurlEngine::Begin(const std::shared_ptr<CurlCall>& call) {
  if (call->cancel_requested()) {
    Tell(*call, CancelledError(*call));
    return;
  }
  if (Status s = Configure(*call); !s.ok()) {
    call->easy.reset();
    call->header_list.reset();
    Tell(*call, std::move(s));
    return;
  }
  if (curl_multi_add_handle(multi_, call->easy.get()) != CURLM_OK) {
    call->easy.reset();
    call->header_list.reset();
    Tell(*call, InternalError("cannot start an outbound call"));
    return;
  }
  active_.emplace(call.get(), call);
  if (call->request.body_source) {
    std::weak_ptr<CurlCall> weak = call;
    std::weak_ptr<CurlEngine> engine = call->engine();
    call->request.body_source->SetWake([weak, engine] {
      std::shared_ptr<CurlCall> c = weak.lock();
      std::shared_ptr<CurlEngine> e = engine.lock();
      if (c && e) e->RequestUnpause(std::move(c));
    });
  }
}

Status CurlEngine::Configure(CurlCall& call) {
  UpstreamRequest& r = call.request;
  RETURN_IF_ERROR(ValidateOutboundUrl(r.url, r.allow_http));
  // What goes on the request line and in the head must not be able to break out of it.
  if (!CheckHeaderText(r.method, "").ok()) {
    return InvalidArgumentError("the method is not a valid HTTP method");
  }
  for (const auto& [name, value] : r.headers) RETURN_IF_ERROR(CheckHeaderText(name, value));
  call.host = HostOfUrl(r.url);
  call.easy.reset(curl_easy_init());
  if (!call.easy) return InternalError("cannot start an outbound call");
  const bool get = r.method == "GET";
  const bool head = r.method == "HEAD";
  const bool send_body = !get && !head &&
                         (r.body_source || !r.body.empty() || r.method == "POST" ||
                          r.method == "PUT" || r.method == "PATCH");
  // libcurl's own headers, unless the request has its own: "Expect: 100-continue" (which waits
  // for the upstream), "Accept: */*", and a form Content-Type for a body.
  std::vector<std::string_view> removals;
  if (!HasHeader(r.headers, "expect")) removals.emplace_back("Expect:");
  if (!HasHeader(r.headers, "accept")) removals.emplace_back("Accept:");
  if (send_body && !HasHeader(r.headers, "content-type")) removals.emplace_back("Content-Type:");
  ASSIGN_OR_RETURN(call.header_list, BuildCurlHeaderList(r.headers, removals));

  const auto total = std::max(r.max_duration, std::chrono::milliseconds(1));
  CURL* c = call.easy.get();
  call.socket_guard.guard = &guard_;
  SetSafeTransferOptions(c, r.allow_http, &call.socket_guard);
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_PRIVATE, &call);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(total, kMaxConnectTime).count()));
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &call);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBodyBytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, call.header_list.get());
  if (get) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (head) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (send_body && r.body_source) {
      // Sent as it arrives: chunked unless its length is known.
      const std::optional<uint64_t> length = r.body_source->length();
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, &OnUploadBytes);
      curl_easy_setopt(c, CURLOPT_READDATA, &call);
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       length.has_value() ? static_cast<curl_off_t>(*length) : curl_off_t{-1});
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    } else if (send_body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.data());
    }
  }
  return OkStatus();
}

Status CurlEngine::Outcome(CurlCall& call, CURLcode rc) {
  if (call.over_bound) {
    return ResourceExhaustedError(
        call.head_bytes > kMaxHeadBytes
            ? fmt::format("the response head from {} is larger than {} bytes", call.host,
                          kMaxHeadBytes)
            : fmt::format("the response from {} is larger than {} bytes", call.host,
                          call.request.max_response_bytes));
  }
  if (call.upload_too_large) {
    return OutOfRangeError(fmt::format("the request body is larger than the binding's {} bytes",
                                       call.request.max_request_bytes));
  }
  if (call.upload_failed.has_value()) return *call.upload_failed;
  if (call.sink_stopped) return CancelledError(call);
  if (rc == CURLE_OK) {
    if (!call.head_sent) SendHead(call);
    return OkStatus();
  }
  if (call.socket_guard.refused.has_value() &&
      (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT)) {
    return *call.socket_guard.refused;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return {StatusCode::kDeadlineExceeded,
            fmt::format("the call to {} did not complete within {} ms", call.host,
                        call.request.max_duration.count())};
  }
  // curl_easy_strerror, not the error buffer: a generic text that cannot repeat the URL.
  return UnavailableError(
      fmt::format("the call to {} failed: {}", call.host, curl_easy_strerror(rc)));
}

void CurlEngine::End(CurlCall* call, Status status) {
  auto it = active_.find(call);
  if (it == active_.end()) return;
  std::shared_ptr<CurlCall> keep = std::move(it->second);
  active_.erase(it);
  keep->touched = false;  // OnDone says it all
  (void)curl_multi_remove_handle(multi_, keep->easy.get());
  keep->easy.reset();
  keep->header_list.reset();
  Tell(*keep, std::move(status));
}

}  // namespace coffer::gateway
