// Mutex, SharedMutex, their scoped locks and CondVar: std::mutex, std::shared_mutex and
// std::condition_variable with clang's thread-safety annotations (common/thread_annotations.h),
// which libstdc++'s own types lack. A member declared COFFER_GUARDED_BY(mu_) is then touched
// only with mu_ held, or the clang build fails. Costs nothing over the std types they wrap.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "common/thread_annotations.h"

namespace coffer {

// An exclusive lock. Lock it through MutexLock; waits through CondVar.
class COFFER_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() COFFER_ACQUIRE() { mu_.lock(); }
  void Unlock() COFFER_RELEASE() { mu_.unlock(); }
  // Takes the lock if no one holds it; true if it did. (Not for a lock the caller holds.)
  bool TryLock() COFFER_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `mu` from construction to destruction. Unlock() and Lock() let go of it for a while
// (to call out without the lock) and take it again; the destructor releases it only if held.
class COFFER_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) COFFER_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() COFFER_RELEASE() {
    if (locked_) {
      mu_.Unlock();
    }
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // REQUIRES: held.
  void Unlock() COFFER_RELEASE() {
    mu_.Unlock();
    locked_ = false;
  }
  // REQUIRES: not held.
  void Lock() COFFER_ACQUIRE() {
    mu_.Lock();
    locked_ = true;
  }

 private:
  Mutex& mu_;
  bool locked_ = true;
};

// A lock that many readers may hold at once, or one writer. Lock it through ReaderMutexLock or
// WriterMutexLock.
class COFFER_CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() COFFER_ACQUIRE() { mu_.lock(); }
  void Unlock() COFFER_RELEASE() { mu_.unlock(); }
  void LockShared() COFFER_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() COFFER_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds `mu` shared from construction to destruction: members it guards may be read.
class COFFER_SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mu) COFFER_ACQUIRE_SHARED(mu) : mu_(mu) {
    mu_.LockShared();
  }
  ~ReaderMutexLock() COFFER_RELEASE() { mu_.UnlockShared(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds `mu` exclusively from construction to destruction: members it guards may be written.
class COFFER_SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mu) COFFER_ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~WriterMutexLock() COFFER_RELEASE() { mu_.Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Waits for a condition on members a Mutex guards. Each wait releases the mutex while it
// blocks and holds it again when it returns. A predicate `done` runs with the mutex held: a
// lambda that reads guarded members says so, `[&]() COFFER_REQUIRES(mu_) { return ...; }`.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Blocks until notified, or woken spuriously: call it in a loop on the condition.
  void Wait(Mutex& mu) COFFER_REQUIRES(mu) {
    Adopted lock(mu);
    cv_.wait(lock.lock);
  }
  // Blocks until `done()` is true or `timeout` has passed; returns `done()`.
  // (Unchecked body: the analysis cannot see that `done` runs with `mu` held.)
  template <typename Rep, typename Period, typename Predicate>
  bool WaitFor(Mutex& mu, const std::chrono::duration<Rep, Period>& timeout, Predicate done)
      COFFER_REQUIRES(mu) COFFER_NO_THREAD_SAFETY_ANALYSIS {
    Adopted lock(mu);
    return cv_.wait_for(lock.lock, timeout, std::move(done));
  }
  // Blocks until `done()` is true or `deadline` has come; returns `done()`.
  // (Unchecked body: as WaitFor.)
  template <typename Clock, typename Duration, typename Predicate>
  bool WaitUntil(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline,
                 Predicate done) COFFER_REQUIRES(mu) COFFER_NO_THREAD_SAFETY_ANALYSIS {
    Adopted lock(mu);
    return cv_.wait_until(lock.lock, deadline, std::move(done));
  }

  void NotifyOne() noexcept { cv_.notify_one(); }
  void NotifyAll() noexcept { cv_.notify_all(); }

 private:
  // std::condition_variable waits on a std::unique_lock: this one adopts the caller's held
  // mutex and leaves it held, never unlocking it itself (not even when `done` throws).
  struct Adopted {
    explicit Adopted(Mutex& mu) : lock(mu.mu_, std::adopt_lock) {}
    ~Adopted() { (void)lock.release(); }
    Adopted(const Adopted&) = delete;
    Adopted& operator=(const Adopted&) = delete;
    std::unique_lock<std::mutex> lock;
  };

  std::condition_variable cv_;
};

}  // namespace coffer
