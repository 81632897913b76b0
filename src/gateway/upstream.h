// Streaming outbound calls for the agent gateway: an UpstreamClient starts a request and hands
// the answer to an UpstreamSink piece by piece as it arrives (head, body chunks, end), so a
// proxied response is passed on while the upstream is still sending it. The libcurl client
// drives a call started on a thread that runs a ThreadLoop (common/thread_loop.h: the HTTP
// server's I/O threads) on that thread, and every other call on a transfer thread of its own
// (libcurl's multi interface), under the same rules as http_client.h: the EgressGuard checked
// on the address actually connected, no redirects, no proxy, TLS verified, bounded time and
// response size.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gateway/egress_guard.h"

namespace coffer::gateway {

// A request body sent while it still arrives (the proxy passes an agent's upload on as it comes).
// Thread-safe; Read is called on the thread that drives the call.
class UpstreamBodySource {
 public:
  virtual ~UpstreamBodySource() = default;
  enum class Result {
    kData,    // `*n` bytes (> 0) were written to `out`
    kWait,    // nothing yet: the wake callback is called when there may be
    kEnd,     // the body is complete
    kFailed,  // the body broke: failure() says why
  };
  virtual Result Read(char* out, size_t max, size_t* n) = 0;
  // Called (any thread, quick) when Read may have something new after kWait. Empty: none.
  virtual void SetWake(std::function<void()> wake) = 0;
  virtual Status failure() const = 0;
  // The call ended: nothing more will be read.
  virtual void Close() = 0;
  // The body's size when known in advance (Content-Length).
  virtual std::optional<uint64_t> length() const = 0;
  // Bytes Read has given so far.
  virtual uint64_t taken() const = 0;
};

struct UpstreamRequest {
  std::string method;  // GET, HEAD, POST, PUT, PATCH, DELETE, … (sent as it is)
  std::string url;     // absolute, query included; validated by ValidateOutboundUrl
  // Sent as they are (gateway/forward_headers.h filters them first). libcurl adds Host and
  // Content-Length only: no Accept, no Expect, no User-Agent, no Content-Type of its own.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // not sent for GET and HEAD
  // When set, the body comes from here instead of `body`, as it arrives (chunked unless its
  // length is known); more than `max_request_bytes` of it ends the call with kOutOfRange.
  std::shared_ptr<UpstreamBodySource> body_source;
  size_t max_request_bytes = 1 << 20;
  bool allow_http = false;
  std::chrono::milliseconds max_duration{30000};  // the whole call; connecting: at most 5 s
  size_t max_response_bytes = 10 << 20;
};

// Called on the thread that drives the call (the ThreadLoop's that started it, else the client's
// transfer thread), in this order: OnHead once (if an answer came),
// OnBody any number of times, OnDone exactly once (OK: the body is complete; else why:
// kDeadlineExceeded, kResourceExhausted for a response over the bound, kOutOfRange for a
// streamed request body over its bound, the body source's failure when it broke, kCancelled,
// kUnavailable when no connection could be made or it broke, kPermissionDenied by the egress
// guard, kInvalidArgument for a URL ValidateOutboundUrl refuses, a method that is not an HTTP
// token or a header CheckHeaderText refuses). Must not block for long: every
// call of the client waits meanwhile. May call Cancel or Start.
class UpstreamSink {
 public:
  virtual ~UpstreamSink() = default;
  // The final head (1xx interim heads are skipped); header names lower-case, values trimmed.
  virtual void OnHead(int status, std::vector<std::pair<std::string, std::string>> headers) = 0;
  // Returns false to stop: the call then ends with OnDone(kCancelled).
  virtual bool OnBody(std::string_view bytes) = 0;
  virtual void OnDone(Status status) = 0;
  // What the upstream sent has all been passed on (OnHead, OnBody) for now: called after the
  // head or body bytes that one read from the upstream brought (not after OnDone), so a sink may
  // announce them together (a head and the first bytes that came with it) instead of one by one.
  virtual void OnIdle() {}
};

// A call in progress. Thread-safe.
class UpstreamCall {
 public:
  virtual ~UpstreamCall() = default;
  // Stops the call from any thread: OnDone(kCancelled) follows within ~100 ms, unless the call
  // had already ended (then nothing happens).
  virtual void Cancel() = 0;
};

class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  // Starts `request`; its outcome goes to `sink`, whose calls may begin before Start returns.
  // Never fails itself: every error reaches OnDone.
  // Thread-safe. Destroying the client cancels every call (OnDone(kCancelled)) and waits.
  virtual std::shared_ptr<UpstreamCall> Start(UpstreamRequest request,
                                              std::shared_ptr<UpstreamSink> sink) = 0;
};

// libcurl's multi interface: one multi handle (and its connections) for each ThreadLoop that
// starts calls, driven by the loop's thread, and one on a transfer thread for the other callers.
// At most `max_concurrent` calls are in flight on each; more wait their turn (their max_duration
// counts from when they start). Error messages
// name the host only: never a header, a body, the path or the query (which may hold a
// credential).
std::unique_ptr<UpstreamClient> NewCurlUpstreamClient(EgressGuard guard,
                                                      size_t max_concurrent = 1024);

}  // namespace coffer::gateway
