// The steady clock, and the fake one tests advance: its waiters are woken by Advance under their
// own mutex, so none misses the move that reaches its deadline.
#include "common/monotonic_clock.h"

#include <algorithm>

namespace coffer {

MonotonicTime SystemMonotonicClock::Now() const {
  return MonotonicTime(std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch()));
}

bool SystemMonotonicClock::WaitUntil(std::unique_lock<std::mutex>& lock,
                                     std::condition_variable& cv, MonotonicTime deadline,
                                     const std::function<bool()>& done) const {
  if (deadline == MonotonicTime::max()) {
    cv.wait(lock, done);
    return true;
  }
  return cv.wait_until(lock, std::chrono::steady_clock::time_point(deadline.time_since_epoch()),
                       done);
}

const MonotonicClock& DefaultMonotonicClock() {
  static const SystemMonotonicClock clock;
  return clock;
}

MonotonicTime FakeMonotonicClock::Now() const {
  return MonotonicTime(MonotonicTime::duration(now_.load()));
}

bool FakeMonotonicClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                                   MonotonicTime deadline,
                                   const std::function<bool()>& done) const {
  const Waiter self{lock.mutex(), &cv};
  lock.unlock();
  {
    std::lock_guard<std::mutex> waiters(waiters_mu_);
    waiters_.push_back(&self);
  }
  {
    std::lock_guard<std::mutex> events(events_mu_);
    ++waits_;
    ++waiting_;
  }
  events_cv_.notify_all();
  lock.lock();
  // Registered before this check: an Advance from here on notifies `cv` holding `lock`'s mutex,
  // so it cannot slip in between the check and the wait.
  while (!done() && Now() < deadline) {
    cv.wait(lock);
  }
  lock.unlock();
  {
    std::lock_guard<std::mutex> waiters(waiters_mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  }
  {
    std::lock_guard<std::mutex> events(events_mu_);
    --waiting_;
  }
  events_cv_.notify_all();
  lock.lock();
  return done();
}

void FakeMonotonicClock::Advance(std::chrono::nanoseconds delta) {
  now_ += std::max(delta, std::chrono::nanoseconds(0)).count();
  std::lock_guard<std::mutex> waiters(waiters_mu_);
  for (const Waiter* w : waiters_) {
    std::lock_guard<std::mutex> lock(*w->mu);
    w->cv->notify_all();
  }
}

uint64_t FakeMonotonicClock::waits() const {
  std::lock_guard<std::mutex> events(events_mu_);
  return waits_;
}

bool FakeMonotonicClock::AwaitWaits(uint64_t n, std::chrono::milliseconds limit) const {
  return AwaitEvent(limit, [&] { return waits_ >= n; });
}

bool FakeMonotonicClock::AwaitWaiting(size_t n, std::chrono::milliseconds limit) const {
  return AwaitEvent(limit, [&] { return waiting_ >= n; });
}

bool FakeMonotonicClock::AwaitEvent(std::chrono::milliseconds limit,
                                    const std::function<bool()>& ready) const {
  std::unique_lock<std::mutex> events(events_mu_);
  return events_cv_.wait_for(events, limit, ready);
}

}  // namespace coffer
