// Tests for the monotonic clocks: the fake one moves only when advanced and wakes the threads
// waiting on it exactly when their deadline is reached; the steady one waits as
// condition_variable does.
#include "common/monotonic_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "common/mutex.h"

namespace coffer {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A thread that waits on `clock` until `deadline` or until Finish(); its result says which.
class Waiter {
 public:
  Waiter(const MonotonicClock& clock, MonotonicTime deadline)
      : result_(std::async(std::launch::async, [this, &clock, deadline] {
          MutexLock lock(mu_);
          return clock.WaitUntil(mu_, cv_, deadline,
                                 [this]() COFFER_REQUIRES(mu_) { return finished_; });
        })) {}
  ~Waiter() { Finish(); }

  void Finish() {
    {
      MutexLock lock(mu_);
      finished_ = true;
    }
    cv_.NotifyAll();
  }
  bool Returned() { return result_.wait_for(seconds(0)) == std::future_status::ready; }
  bool Result() { return result_.get(); }

 private:
  Mutex mu_;
  CondVar cv_;
  bool finished_ COFFER_GUARDED_BY(mu_) = false;
  std::future<bool> result_;
};

TEST(FakeMonotonicClockTest, MovesOnlyWhenAdvanced) {
  FakeMonotonicClock clock;
  const MonotonicTime start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(milliseconds(250));
  EXPECT_EQ(clock.Now() - start, milliseconds(250));
  clock.Advance(milliseconds(-5));  // never backwards
  EXPECT_EQ(clock.Now() - start, milliseconds(250));
}

TEST(FakeMonotonicClockTest, AWaitReturnsWhenAnAdvanceReachesItsDeadline) {
  FakeMonotonicClock clock;
  Waiter waiter(clock, clock.Now() + seconds(10));
  ASSERT_TRUE(clock.AwaitWaiting(1));
  clock.Advance(seconds(9));
  EXPECT_FALSE(waiter.Returned()) << "a second short of its deadline";
  EXPECT_EQ(clock.waits(), 1u) << "woken and back to waiting within the same call";
  clock.Advance(seconds(1));
  EXPECT_FALSE(waiter.Result()) << "timed out";
}

TEST(FakeMonotonicClockTest, AWaitEndsAtOnceWhenDoneWhateverTheTime) {
  FakeMonotonicClock clock;
  Waiter waiter(clock, MonotonicTime::max());
  ASSERT_TRUE(clock.AwaitWaiting(1));
  waiter.Finish();
  EXPECT_TRUE(waiter.Result());
}

TEST(FakeMonotonicClockTest, ADeadlineAlreadyPastDoesNotWait) {
  FakeMonotonicClock clock;
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  EXPECT_FALSE(clock.WaitUntil(mu, cv, clock.Now(), [] { return false; }));
  EXPECT_TRUE(clock.WaitFor(mu, cv, seconds(5), [] { return true; }));
  EXPECT_EQ(clock.waits(), 2u);
}

TEST(FakeMonotonicClockTest, OneAdvanceWakesEveryWaiterItReaches) {
  FakeMonotonicClock clock;
  Waiter soon(clock, clock.Now() + seconds(1));
  Waiter later(clock, clock.Now() + seconds(2));
  Waiter never(clock, MonotonicTime::max());
  ASSERT_TRUE(clock.AwaitWaiting(3));
  clock.Advance(seconds(5));
  EXPECT_FALSE(soon.Result());
  EXPECT_FALSE(later.Result());
  EXPECT_TRUE(clock.AwaitWaiting(1) && !never.Returned());
  never.Finish();
  EXPECT_TRUE(never.Result());
}

TEST(SystemMonotonicClockTest, WaitsAsAConditionVariableDoes) {
  const MonotonicClock& clock = DefaultMonotonicClock();
  const MonotonicTime before = clock.Now();
  EXPECT_GE(clock.Now(), before);
  Mutex mu;
  CondVar cv;
  MutexLock lock(mu);
  EXPECT_FALSE(clock.WaitUntil(mu, cv, before, [] { return false; })) << "deadline past";
  EXPECT_TRUE(clock.WaitUntil(mu, cv, MonotonicTime::max(), [] { return true; }));
  Waiter waiter(clock, MonotonicTime::max());
  waiter.Finish();
  EXPECT_TRUE(waiter.Result());
}

}  // namespace
}  // namespace coffer
