// Plain HTTP request and response records. Deliberately free of Beast/Asio so the api/ layer
// and its tests compile fast; only the http/server*.cc files see Beast.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace coffer::http {

class RequestBodyStream;  // http/request_body.h

struct Request {
  std::string method;  // "GET", "PUT", …
  std::string target;  // as received: path and query, still percent-encoded
  // Path segments after percent-decoding, e.g. /v1/vaults/x/secrets/a%2Fb -> {"v1","vaults",
  // "x","secrets","a/b"}.
  std::vector<std::string> segments;
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string peer_ip;     // the socket peer
  std::string request_id;  // assigned by the server, echoed as X-Request-Id
  // Set by a server that honours Response::before_send; a handler called without it (a test,
  // a fuzzer) must give a response that is final as returned.
  bool before_send_honoured = false;
  // For a route with RouteOptions::stream_body whose request has a body: the body as it arrives
  // (`body` stays empty). Null otherwise.
  std::shared_ptr<RequestBodyStream> body_stream;

  // First header of that (lower-case) name.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
  // First query parameter of that name.
  std::optional<std::string_view> Query(std::string_view name) const;
};

struct Response;

// A response body produced while it is sent (Response::stream). The producer calls Write, Finish
// and Fail from any thread; the server sends each Write as it comes (HTTP/1.1: chunked; HTTP/1.0:
// until the connection closes). Write never blocks: bytes queue until the connection takes them,
// and every queued buffer is wiped when released. Thread-safe.
class BodyStream {
 public:
  // Where the body stands, for the server.
  enum class State { kOpen, kFinished, kFailed, kAbandoned };

  BodyStream() = default;
  ~BodyStream();
  BodyStream(const BodyStream&) = delete;
  BodyStream& operator=(const BodyStream&) = delete;

  // Queues `bytes` (a copy). False once the client has gone or the body ended: stop producing.
  bool Write(std::string_view bytes);
  // The body is complete: what was written is sent, then its end.
  void Finish();
  // The body broke: the connection is closed without the body's end, so the client sees it cut.
  void Fail();
  // Called once (on any thread, never under this stream's lock) when the client goes away or the
  // server stops before Finish or Fail; at once if that already happened. Replaces an earlier
  // callback.
  void OnAbandoned(std::function<void()> callback);

  // --- for the server -------------------------------------------------------------------------
  // Moves the bytes written so far to the back of `chunks` (which the caller wipes once sent,
  // e.g. with WipeChunks) and returns the state. Bytes written before Finish or Fail still come
  // out before the state says so.
  State Take(std::deque<std::string>& chunks);
  // Calls `listener` on every Write, Finish and Fail from now on (under this stream's lock: it
  // must be quick), and at once if bytes or an end are waiting to be taken.
  void Listen(std::function<void()> listener);
  // No more calls of the listener once this returns.
  void StopListening();
  // The client went away or the server stops: from now on Write returns false, and the bytes
  // still queued are wiped. Fires the OnAbandoned callback unless the producer had ended. Any
  // number of calls.
  void Abandon();

  // Wipes and empties `chunks`.
  static void WipeChunks(std::deque<std::string>& chunks);

 private:
  mutable Mutex mu_;
  std::deque<std::string> queued_ COFFER_GUARDED_BY(mu_);
  State state_ COFFER_GUARDED_BY(mu_) = State::kOpen;
  bool callback_due_ COFFER_GUARDED_BY(mu_) = false;  // abandoned, the callback not yet called
  std::function<void()> on_abandoned_ COFFER_GUARDED_BY(mu_);
  std::function<void()> listener_ COFFER_GUARDED_BY(mu_);
};

// Told when whatever a deferred answer waits for may have happened (see Deferred). Fire() may be
// called any number of times, from any thread, before or while the server listens; the server
// notices a Fire() made before it started to listen. Thread-safe.
class WakeSignal {
 public:
  void Fire();
  // --- for the server -------------------------------------------------------------------------
  // Calls `listener` on every Fire() from now on (under this signal's lock: it must be quick),
  // and at once if a Fire() came since the last TakeFired().
  void Listen(std::function<void()> listener);
  // No more calls of the listener once this returns.
  void StopListening();
  // Whether a Fire() came since the last call; resets.
  bool TakeFired();

 private:
  Mutex mu_;
  bool fired_ COFFER_GUARDED_BY(mu_) = false;
  std::function<void()> listener_ COFFER_GUARDED_BY(mu_);
};

// An answer that waits without holding a worker thread (a long poll): the server keeps the
// connection open until `wake` fires, `timeout` runs out, the client goes away or the server
// shuts down, then calls `resume` on a worker thread.
struct Deferred {
  std::shared_ptr<WakeSignal> wake;
  std::chrono::milliseconds timeout{0};
  // woken=true after a Fire(): the final response, or nullopt to wait on (with the same
  // deadline) when what fired was not what the request waits for. woken=false when the time ran
  // out or the server is shutting down: the final response (nullopt sends 304 Not Modified).
  // Not called when the client went away.
  std::function<std::optional<Response>(bool woken)> resume;
  // `resume` is quick and never waits (it takes a lock at most): the server calls it on the I/O
  // thread instead of handing it to the worker pool and back.
  bool quick = false;
  // Kept while the request waits and released (on any thread) when the wait ends: e.g. the
  // subscription that fires `wake`.
  std::shared_ptr<void> hold;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The body holds a secret value: the server wipes it once written.
  bool sensitive = false;
  // The authenticated caller (a user or agent id), for the access log; never sent.
  std::string actor_id;
  // Why a 5xx happened (the Status message that the client is not shown), for the access log;
  // never sent. Status messages never hold a value or a token.
  std::string internal_cause;
  // Only for a request with before_send_honoured. When set, the server calls it once before
  // sending, off its worker threads, with a continuation it expects exactly once, from any
  // thread: OK sends this response; any other status sends that status's problem+json instead
  // (a sensitive body is wiped unsent). A handler's last step (e.g. appending its audit event)
  // so finishes without a thread waiting for it. The caller may keep the continuation (and
  // copies of it) after calling it, even past the server's end: once called it holds nothing.
  std::function<void(std::function<void(Status)>)> before_send;
  // Only for a request with before_send_honoured: the answer comes later (see Deferred); the
  // other fields of this response are ignored.
  std::shared_ptr<Deferred> deferred;
  // When set, the body is produced while it is sent (see BodyStream) and `body` is ignored. The
  // status and headers go out at once; the server abandons the stream if it sends something
  // else instead (a before_send refusal) or cannot send it all.
  std::shared_ptr<BodyStream> stream;
};

}  // namespace coffer::http
