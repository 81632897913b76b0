// DeadlineWorker: runs calls that cannot be cancelled (a PKCS#11 module's) one at a time on a
// thread of its own, so that whoever waits on one stops waiting at a deadline while the call runs
// on. While a call has overrun its deadline and not returned, further calls fail at once (a
// breaker) instead of queueing behind it; it closes by itself when that call returns.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "common/monotonic_clock.h"
#include "common/mutex.h"

namespace coffer {

class DeadlineWorker {
 public:
  enum class Outcome {
    kDone,      // the call ran to its end
    kTimedOut,  // the deadline passed first: the call runs on (or, not started, never runs)
    kStuck,     // an earlier call overran its deadline and has not returned: not run
  };

  // `timeout` bounds each Run, time spent queued behind other calls included. `clock` (which
  // must outlive the worker) times the waits; tests inject a FakeMonotonicClock.
  // `at_thread_exit`, when set, runs on the worker thread as its last act (a library's
  // per-thread state freed there, deterministically, rather than by a thread-exit hook that
  // the library may have dropped by then).
  explicit DeadlineWorker(std::chrono::nanoseconds timeout,
                          const MonotonicClock& clock = DefaultMonotonicClock(),
                          std::function<void()> at_thread_exit = {});
  // Lets the thread finish what is queued and stop. Waits for it, unless it runs on the worker
  // thread itself (a call held the last reference to the worker's owner): it is then detached
  // and exits on its own.
  ~DeadlineWorker();
  DeadlineWorker(const DeadlineWorker&) = delete;
  DeadlineWorker& operator=(const DeadlineWorker&) = delete;

  // Runs `call` on the worker thread and waits for it until the timeout. `call` must own what it
  // touches (a caller that timed out is gone when it runs or ends). Thread-safe.
  Outcome Run(std::function<void()> call);

  // Whether a call is overrunning its deadline now (the breaker is open). Thread-safe.
  bool stuck() const;

  std::chrono::nanoseconds timeout() const { return timeout_; }

 private:
  struct Job {
    std::function<void()> call;
    bool done = false;
    bool abandoned = false;  // its caller stopped waiting
  };
  // What the thread shares with the worker, kept alive by the thread after a detach.
  struct Shared {
    mutable Mutex mu;
    CondVar cv;  // a job queued, done or abandoned; stopping
    std::deque<std::shared_ptr<Job>> queue COFFER_GUARDED_BY(mu);
    std::shared_ptr<Job> running COFFER_GUARDED_BY(mu);
    bool stopping COFFER_GUARDED_BY(mu) = false;
  };
  static void RunJobs(const std::shared_ptr<Shared>& shared);

  const std::chrono::nanoseconds timeout_;
  const MonotonicClock& clock_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace coffer
