// MonotonicClock: the one way Coffer code measures intervals, timeouts and durations, and waits
// for them, injected so a test moves time by hand instead of sleeping. Clock (clock.h) is for wall
// time; this one only ever moves forward and has no relation to the calendar.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace coffer {

class MonotonicClock;

// A point on a MonotonicClock. Comparable only with points of the same clock; not a
// std::chrono::steady_clock time, so it cannot reach a std::condition_variable or an Asio timer
// by mistake.
using MonotonicTime = std::chrono::time_point<MonotonicClock, std::chrono::nanoseconds>;

class MonotonicClock {
 public:
  virtual ~MonotonicClock() = default;

  // Now; never less than an earlier call returned. Thread-safe.
  virtual MonotonicTime Now() const = 0;

  // Waits on `cv` until `done()` holds or Now() reaches `deadline` (MonotonicTime::max(): no
  // deadline), like CondVar::WaitUntil: `mu` is held on entry and on return, released while
  // waiting, and `done` is called with it held (a lambda that reads what `mu` guards says so:
  // `[&]() COFFER_REQUIRES(mu_) { ... }`). Returns done(). Whoever makes done() true notifies
  // `cv`. Thread-safe.
  virtual bool WaitUntil(Mutex& mu, CondVar& cv, MonotonicTime deadline,
                         const std::function<bool()>& done) const COFFER_REQUIRES(mu) = 0;

  // WaitUntil(mu, cv, Now() + timeout, done).
  bool WaitFor(Mutex& mu, CondVar& cv, std::chrono::nanoseconds timeout,
               const std::function<bool()>& done) const COFFER_REQUIRES(mu) {
    return WaitUntil(mu, cv, Now() + timeout, done);
  }
};

// std::chrono::steady_clock.
class SystemMonotonicClock final : public MonotonicClock {
 public:
  MonotonicTime Now() const override;
  bool WaitUntil(Mutex& mu, CondVar& cv, MonotonicTime deadline,
                 const std::function<bool()>& done) const COFFER_REQUIRES(mu) override;
};

// The SystemMonotonicClock every production default refers to. It holds no state.
const MonotonicClock& DefaultMonotonicClock();

// A clock that moves only when Advance is called. A thread waiting in WaitUntil is woken by the
// Advance that reaches its deadline; a test learns that the code under test is waiting (and so
// has finished what it did before) from AwaitWaiting and AwaitWaits rather than by sleeping.
// Thread-safe.
class FakeMonotonicClock final : public MonotonicClock {
 public:
  explicit FakeMonotonicClock(MonotonicTime start = MonotonicTime(std::chrono::hours(1)))
      : now_(start.time_since_epoch().count()) {}

  MonotonicTime Now() const override;
  bool WaitUntil(Mutex& mu, CondVar& cv, MonotonicTime deadline,
                 const std::function<bool()>& done) const COFFER_REQUIRES(mu) override;

  // Moves time forward by `delta` (>= 0) and wakes every thread waiting in WaitUntil, which then
  // sees the new time. REQUIRES: the caller holds none of the waiters' mutexes.
  void Advance(std::chrono::nanoseconds delta);

  // WaitUntil calls begun so far (including those still waiting).
  uint64_t waits() const;
  // Blocks until WaitUntil has been called `n` times in all; false if that takes longer than
  // `limit` of real time (a test failure, not a way to let time pass).
  bool AwaitWaits(uint64_t n, std::chrono::milliseconds limit = kAwaitLimit) const;
  // Blocks until at least `n` threads are waiting in WaitUntil, so an Advance reaches them;
  // false after `limit` of real time.
  bool AwaitWaiting(size_t n, std::chrono::milliseconds limit = kAwaitLimit) const;

  static constexpr std::chrono::milliseconds kAwaitLimit{10'000};

 private:
  struct Waiter {
    Mutex* mu;
    CondVar* cv;
  };
  // Blocks until `ready()` holds (called with events_mu_ held) or `limit` passes.
  bool AwaitEvent(std::chrono::milliseconds limit, const std::function<bool()>& ready) const
      COFFER_EXCLUDES(events_mu_);

  std::atomic<MonotonicTime::rep> now_;

  // Advance holds waiters_mu_ while it locks each waiter's mutex in turn; WaitUntil takes
  // waiters_mu_ only with its caller's mutex released, so the two never wait on each other.
  mutable Mutex waiters_mu_;
  mutable std::vector<const Waiter*> waiters_ COFFER_GUARDED_BY(waiters_mu_);

  mutable Mutex events_mu_;  // taken last, never held while taking another
  mutable CondVar events_cv_;
  mutable uint64_t waits_ COFFER_GUARDED_BY(events_mu_) = 0;
  mutable size_t waiting_ COFFER_GUARDED_BY(events_mu_) = 0;
};

}  // namespace coffer
