// TestGate, for tests only: a call that blocks while the gate is closed (a device that stops
// answering, a call that cannot be cancelled), counting the calls that reached it, so a test
// knows a call is in progress rather than queued without sleeping.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

#include "common/mutex.h"

namespace coffer {

class TestGate {
 public:
  explicit TestGate(bool open) : open_(open) {}

  // A call that counts itself and then waits while the gate is closed. The gate must outlive it.
  std::function<void()> Call() {
    return [this] {
      entered_.fetch_add(1);
      MutexLock lock(mu_);
      while (!open_) {
        cv_.Wait(mu_);
      }
    };
  }
  void Set(bool open) {
    {
      MutexLock lock(mu_);
      open_ = open;
    }
    cv_.NotifyAll();
  }
  // Calls that reached the gate so far.
  int entered() const { return entered_.load(); }
  // Spins (yielding) until more than `before` calls reached the gate.
  void AwaitEntered(int before) const {
    while (entered() <= before) {
      std::this_thread::yield();
    }
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ COFFER_GUARDED_BY(mu_);
  std::atomic<int> entered_{0};
};

}  // namespace coffer
