// CurlSocketLoop: libcurl's socket and timer callbacks onto epoll, a timerfd and an eventfd.
#include "gateway/curl_socket_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace coffer::gateway {

std::unique_ptr<CurlSocketLoop> CurlSocketLoop::Open(CURLM* multi) {
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  bool ok = epoll >= 0 && wake >= 0 && timer >= 0;
  for (int fd : {wake, timer}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ok = ok && epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  if (!ok) {
    for (int fd : {epoll, wake, timer}) {
      if (fd >= 0) close(fd);
    }
    return nullptr;
  }
  return std::unique_ptr<CurlSocketLoop>(new CurlSocketLoop(multi, epoll, wake, timer));
}

CurlSocketLoop::CurlSocketLoop(CURLM* multi, int epoll, int wake, int timer)
    : multi_(multi), epoll_(epoll), wake_(wake), timer_(timer) {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlSocketLoop::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlSocketLoop::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlSocketLoop::~CurlSocketLoop() {
  for (int fd : {epoll_, wake_, timer_}) close(fd);
}

std::vector<std::pair<curl_socket_t, int>> CurlSocketLoop::Wait(int timeout_ms) {
  std::array<epoll_event, 64> events{};
  const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
  if (n < 0 && errno != EINTR) std::abort();  // epoll_ is ours: this cannot fail otherwise
  std::vector<std::pair<curl_socket_t, int>> ready;
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == wake_ || fd == timer_) {
      uint64_t count = 0;
      (void)!read(fd, &count, sizeof count);  // re-armed
      continue;
    }
    int flags = 0;
    if ((events[i].events & EPOLLIN) != 0) flags |= CURL_CSELECT_IN;
    if ((events[i].events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
    if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0) flags |= CURL_CSELECT_ERR;
    ready.emplace_back(fd, flags);
  }
  return ready;
}

void CurlSocketLoop::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_, &one, sizeof one);
}

bool CurlSocketLoop::TakeTimeoutNow() {
  const bool now = timeout_now_;
  timeout_now_ = false;
  return now;
}

void CurlSocketLoop::TimeoutSoon() {
  itimerspec soon{};
  soon.it_value.tv_nsec = 1;
  (void)timerfd_settime(timer_, 0, &soon, nullptr);
}

int CurlSocketLoop::OnSocket(CURL* /*easy*/, curl_socket_t s, int what, void* loop, void* socketp) {
  auto& l = *static_cast<CurlSocketLoop*>(loop);
  if (what == CURL_POLL_REMOVE) {
    (void)epoll_ctl(l.epoll_, EPOLL_CTL_DEL, s, nullptr);
    (void)curl_multi_assign(l.multi_, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = s;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev.events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev.events |= EPOLLOUT;
  if (socketp == nullptr) {
    // A descriptor libcurl closed without telling (it may reuse its number) is added afresh.
    if (epoll_ctl(l.epoll_, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST) {
      (void)epoll_ctl(l.epoll_, EPOLL_CTL_MOD, s, &ev);
    }
    (void)curl_multi_assign(l.multi_, s, &l);  // any non-null mark: "registered"
  } else if (epoll_ctl(l.epoll_, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
    (void)epoll_ctl(l.epoll_, EPOLL_CTL_ADD, s, &ev);
  }
  return 0;
}

int CurlSocketLoop::OnTimer(CURLM* /*multi*/, long timeout_ms, void* loop) {
  auto& l = *static_cast<CurlSocketLoop*>(loop);
  if (timeout_ms == 0) {
    // At once: whoever drives the handle now runs it before letting go, without waking the
    // waiting thread for it.
    l.timeout_now_ = true;
    return 0;
  }
  itimerspec when{};  // zero: disarmed (timeout_ms -1: no timeout)
  if (timeout_ms > 0) {
    when.it_value.tv_sec = timeout_ms / 1000;
    when.it_value.tv_nsec = (timeout_ms % 1000) * 1'000'000;
  }
  (void)timerfd_settime(l.timer_, 0, &when, nullptr);
  return 0;
}

}  // namespace coffer::gateway
