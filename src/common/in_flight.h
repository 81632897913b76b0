// InFlight: counts work an object handed to another thread whose completion calls back into
// it, so that the object can wait, before it is destroyed, until no such completion is left.
#pragma once

#include <cstddef>

#include "common/mutex.h"

namespace coffer {

class InFlight {
 public:
  // One more completion to come. Thread-safe.
  void Add() {
    MutexLock lock(mu_);
    ++count_;
  }
  // That completion is over: call it as the completion's last use of the owner, which may be
  // destroyed as soon as this returns. Thread-safe.
  void Done() {
    MutexLock lock(mu_);
    --count_;
    none_left_.NotifyAll();  // under the lock: the waiter cannot return before it is released
  }
  // Blocks until every completion added so far is done. Thread-safe.
  void WaitForNone() {
    MutexLock lock(mu_);
    while (count_ != 0) {
      none_left_.Wait(mu_);
    }
  }

 private:
  Mutex mu_;
  CondVar none_left_;
  size_t count_ COFFER_GUARDED_BY(mu_) = 0;
};

}  // namespace coffer
