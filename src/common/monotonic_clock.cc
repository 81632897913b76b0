// The steady clock, and the fake one tests advance: its waiters are woken by Advance under their
// own mutex, so none misses the move that reaches its deadline.
#include "common/monotonic_clock.h"

#include <algorithm>

namespace coffer {

MonotonicTime SystemMonotonicClock::Now() const {
  return MonotonicTime(std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch()));
}

bool SystemMonotonicClock::WaitUntil(Mutex& mu, CondVar& cv, MonotonicTime deadline,
                                     const std::function<bool()>& done) const {
  if (deadline == MonotonicTime::max()) {
    while (!done()) {
      cv.Wait(mu);
    }
    return true;
  }
  return cv.WaitUntil(mu, std::chrono::steady_clock::time_point(deadline.time_since_epoch()), done);
}

const MonotonicClock& DefaultMonotonicClock() {
  static const SystemMonotonicClock clock;
  return clock;
}

MonotonicTime FakeMonotonicClock::Now() const {
  return MonotonicTime(MonotonicTime::duration(now_.load()));
}

bool FakeMonotonicClock::WaitUntil(Mutex& mu, CondVar& cv, MonotonicTime deadline,
                                   const std::function<bool()>& done) const {
  const Waiter self{&mu, &cv};
  mu.Unlock();
  {
    MutexLock waiters(waiters_mu_);
    waiters_.push_back(&self);
  }
  {
    MutexLock events(events_mu_);
    ++waits_;
    ++waiting_;
  }
  events_cv_.NotifyAll();
  mu.Lock();
  // Registered before this check: an Advance from here on notifies `cv` holding `mu`, so it
  // cannot slip in between the check and the wait.
  while (!done() && Now() < deadline) {
    cv.Wait(mu);
  }
  mu.Unlock();
  {
    MutexLock waiters(waiters_mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  }
  {
    MutexLock events(events_mu_);
    --waiting_;
  }
  events_cv_.NotifyAll();
  mu.Lock();
  return done();
}

void FakeMonotonicClock::Advance(std::chrono::nanoseconds delta) {
  now_ += std::max(delta, std::chrono::nanoseconds(0)).count();
  MutexLock waiters(waiters_mu_);
  for (const Waiter* w : waiters_) {
    MutexLock lock(*w->mu);
    w->cv->NotifyAll();
  }
}

uint64_t FakeMonotonicClock::waits() const {
  MutexLock events(events_mu_);
  return waits_;
}

bool FakeMonotonicClock::AwaitWaits(uint64_t n, std::chrono::milliseconds limit) const {
  return AwaitEvent(limit, [&]() COFFER_REQUIRES(events_mu_) { return waits_ >= n; });
}

bool FakeMonotonicClock::AwaitWaiting(size_t n, std::chrono::milliseconds limit) const {
  return AwaitEvent(limit, [&]() COFFER_REQUIRES(events_mu_) { return waiting_ >= n; });
}

bool FakeMonotonicClock::AwaitEvent(std::chrono::milliseconds limit,
                                    const std::function<bool()>& ready) const {
  MutexLock events(events_mu_);
  return events_cv_.WaitFor(events_mu_, limit, ready);
}

}  // namespace coffer
