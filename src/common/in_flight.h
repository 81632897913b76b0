// InFlight: counts work an object handed to another thread whose completion calls back into
// it, so that the object can wait, before it is destroyed, until no such completion is left.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace coffer {

class InFlight {
 public:
  // One more completion to come. Thread-safe.
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
  }
  // That completion is over: call it as the completion's last use of the owner, which may be
  // destroyed as soon as this returns. Thread-safe.
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    --count_;
    none_left_.notify_all();  // under the lock: the waiter cannot return before it is released
  }
  // Blocks until every completion added so far is done. Thread-safe.
  void WaitForNone() {
    std::unique_lock<std::mutex> lock(mu_);
    none_left_.wait(lock, [&] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable none_left_;
  size_t count_ = 0;  // guarded by mu_
};

}  // namespace coffer
