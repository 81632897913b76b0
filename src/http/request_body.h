// RequestBodyStream: a request body read while its handler already runs (a route registered with
// RouteOptions::stream_body, e.g. the gateway's proxy, which sends an upload on to its upstream
// as it arrives). The server pushes the bytes it reads and stops reading the socket while
// `max_buffered` bytes wait to be taken (backpressure towards the client); the consumer takes
// them from any thread and is told when more come. Every buffered byte is wiped once taken.
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/status.h"

namespace coffer::http {

class RequestBodyStream {
 public:
  enum class State {
    kOpen,      // more may come
    kComplete,  // the whole body was taken
    kFailed,    // the body broke (failure() says why); the rest never comes
  };

  // `declared_length`: the request's Content-Length, when it has one (not chunked).
  explicit RequestBodyStream(size_t max_buffered, std::optional<uint64_t> declared_length = {});
  ~RequestBodyStream();
  RequestBodyStream(const RequestBodyStream&) = delete;
  RequestBodyStream& operator=(const RequestBodyStream&) = delete;

  // --- for the consumer ---------------------------------------------------------------------
  // Moves up to `max` waiting bytes into `out` (at most max bytes written; `*taken` says how
  // many) and returns the state. kOpen with nothing taken: the listener is called when there
  // is something to take.
  State Take(char* out, size_t max, size_t* taken);
  // Calls `listener` (quick: under this stream's lock) whenever bytes or the end arrive, and
  // at once if some wait. Replaces an earlier listener.
  void Listen(std::function<void()> listener);
  // No more calls of the listener once this returns.
  void StopListening();
  // The consumer takes no more: the server stops reading the body (and does not reuse the
  // connection); buffered bytes are wiped.
  void Abandon();
  // Why the body failed: kOutOfRange (over the server's body limit), kCancelled (the client went
  // away), kDeadlineExceeded (it sent too slowly), kInvalidArgument (malformed).
  Status failure() const;
  std::optional<uint64_t> declared_length() const { return declared_length_; }
  // Bytes pushed so far.
  uint64_t received() const;

  // --- for the server ------------------------------------------------------------------------
  // Queues a copy of `bytes`; false once the consumer abandoned the body.
  bool Push(std::string_view bytes);
  void Finish();
  void Fail(Status why);
  // Whether the server may read more now (fewer than max_buffered bytes wait, not abandoned).
  bool HasRoom() const;
  bool abandoned() const;
  // Calls `on_room` (quick, under the lock) when a Take frees room or the body is abandoned.
  void OnRoom(std::function<void()> on_room);

 private:
  const size_t max_buffered_;
  const std::optional<uint64_t> declared_length_;
  mutable Mutex mu_;
  std::deque<std::string> chunks_ COFFER_GUARDED_BY(mu_);
  size_t front_offset_ COFFER_GUARDED_BY(mu_) = 0;  // bytes of chunks_.front() already taken
  size_t buffered_ COFFER_GUARDED_BY(mu_) = 0;
  uint64_t received_ COFFER_GUARDED_BY(mu_) = 0;
  bool finished_ COFFER_GUARDED_BY(mu_) = false;
  bool abandoned_ COFFER_GUARDED_BY(mu_) = false;
  std::optional<Status> failure_ COFFER_GUARDED_BY(mu_);
  std::function<void()> listener_ COFFER_GUARDED_BY(mu_);
  std::function<void()> on_room_ COFFER_GUARDED_BY(mu_);
};

}  // namespace coffer::http
