// CurlSocketLoop: what a libcurl multi handle driven through its socket interface
// (curl_multi_socket_action) waits on. An epoll set holds the sockets libcurl names (its socket
// callback), a timerfd for its timer (its timer callback) and an eventfd to wake the waiting
// thread. Changes made by any thread reach a thread already waiting. Internal to gateway/.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <utility>
#include <vector>

namespace coffer::gateway {

class CurlSocketLoop {
 public:
  // Creates the descriptors and installs the callbacks on `multi` (which must outlive the loop);
  // null when the process is out of descriptors.
  static std::unique_ptr<CurlSocketLoop> Open(CURLM* multi);
  ~CurlSocketLoop();
  CurlSocketLoop(const CurlSocketLoop&) = delete;
  CurlSocketLoop& operator=(const CurlSocketLoop&) = delete;

  // Blocks until a socket is ready, libcurl's timer runs out or Wake() is called (at most
  // `timeout_ms`; -1: no bound, 0: only looks). Returns each ready socket with its CURL_CSELECT_*
  // flags, for curl_multi_socket_action.
  std::vector<std::pair<curl_socket_t, int>> Wait(int timeout_ms = -1);
  // Readable whenever Wait would return at once: for a thread that waits on it among other
  // descriptors instead of calling Wait(-1).
  int fd() const { return epoll_; }
  // Ends a Wait() (now or the next one). Any thread.
  void Wake();

  // --- under the lock that serialises every call on the multi handle ---
  // Whether libcurl asked for a timeout at once (a 0 ms timer) since the last call; resets.
  // Such a timeout does not wake the waiting thread: the caller driving the handle runs it.
  bool TakeTimeoutNow();
  // Lets the waiting thread run libcurl's timeouts as soon as it can (one it did not run).
  void TimeoutSoon();

 private:
  CurlSocketLoop(CURLM* multi, int epoll, int wake, int timer);
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* loop, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* loop);

  CURLM* const multi_;
  const int epoll_;  // the sockets libcurl waits on, wake_ and timer_
  const int wake_;   // an eventfd
  const int timer_;  // a timerfd: libcurl's next timeout
  bool timeout_now_ = false;
};

}  // namespace coffer::gateway
