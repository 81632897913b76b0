// Tests of DeadlineWorker: a call that overruns its deadline releases its caller, further calls
// fail at once while it is stuck, and the worker recovers when it returns. Time moves by hand.
#include "common/deadline_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace coffer {
namespace {

using Outcome = DeadlineWorker::Outcome;
using std::chrono::seconds;

// A call that blocks until released (a token that does not answer).
class Gate {
 public:
  std::function<void()> Call() {
    return [this] {
      entered_.fetch_add(1);
      MutexLock lock(mu_);
      while (!open_) {
        cv_.Wait(mu_);
      }
    };
  }
  void Open() {
    {
      MutexLock lock(mu_);
      open_ = true;
    }
    cv_.NotifyAll();
  }
  int entered() const { return entered_.load(); }

 private:
  Mutex mu_;
  CondVar cv_;
  bool open_ COFFER_GUARDED_BY(mu_) = false;
  std::atomic<int> entered_{0};
};

TEST(DeadlineWorkerTest, ACallStillQueuedAtItsDeadlineNeverRuns) {
  FakeMonotonicClock clock;
  Gate gate;
  DeadlineWorker worker(seconds(2), clock);
  auto first = std::async(std::launch::async, [&] { return worker.Run(gate.Call()); });
  ASSERT_TRUE(clock.AwaitWaiting(1));
  while (gate.entered() == 0) {
    std::this_thread::yield();
  }
  int ran = 0;
  auto second = std::async(std::launch::async, [&] { return worker.Run([&] { ++ran; }); });
  ASSERT_TRUE(clock.AwaitWaiting(2));
  clock.Advance(seconds(2));  // both deadlines at once: the second never started
  EXPECT_EQ(first.get(), Outcome::kTimedOut);
  EXPECT_NE(second.get(), Outcome::kDone);
  gate.Open();
  while (worker.stuck()) {
    std::this_thread::yield();
  }
  EXPECT_EQ(worker.Run([] {}), Outcome::kDone);
  EXPECT_EQ(ran, 0);
}

TEST(DeadlineWorkerTest, RunsCallsToTheirEnd) {
  DeadlineWorker worker(seconds(2));
  int ran = 0;
  EXPECT_EQ(worker.Run([&] { ++ran; }), Outcome::kDone);
  EXPECT_EQ(worker.Run([&] { ++ran; }), Outcome::kDone);
  EXPECT_EQ(ran, 2);
  EXPECT_FALSE(worker.stuck());
}

TEST(DeadlineWorkerTest, AStuckCallTimesOutFailsFastAfterwardsAndRecovers) {
  FakeMonotonicClock clock;
  Gate gate;
  {
    DeadlineWorker worker(seconds(2), clock);
    auto first = std::async(std::launch::async, [&] { return worker.Run(gate.Call()); });
    ASSERT_TRUE(clock.AwaitWaiting(1));
    while (gate.entered() == 0) {
      std::this_thread::yield();  // until the call runs (not queued: that would just time out)
    }
    clock.Advance(seconds(1));
    // A second caller queues behind the slow one (its deadline a second after the first's) ...
    auto second = std::async(std::launch::async, [&] { return worker.Run([] {}); });
    ASSERT_TRUE(clock.AwaitWaiting(2));
    EXPECT_FALSE(worker.stuck());
    clock.Advance(seconds(1));
    // ... and both are released: the first at its deadline, the second at once with it.
    EXPECT_EQ(first.get(), Outcome::kTimedOut);
    EXPECT_EQ(second.get(), Outcome::kStuck);
    EXPECT_TRUE(worker.stuck());
    // While the call is stuck, others fail without waiting (no Advance needed).
    int ran = 0;
    EXPECT_EQ(worker.Run([&] { ++ran; }), Outcome::kStuck);
    gate.Open();
    // Once it returns, calls run again; the abandoned ones never ran.
    while (worker.stuck()) {
      std::this_thread::yield();
    }
    EXPECT_EQ(worker.Run([&] { ++ran; }), Outcome::kDone);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(gate.entered(), 1);
  }
}

TEST(DeadlineWorkerTest, AWorkerDestroyedByItsOwnCallDetaches) {
  // The last reference to the worker's owner is dropped by a call that overran: the worker is
  // destroyed on its own thread, which must not join itself.
  FakeMonotonicClock clock;
  Gate gate;
  auto worker = std::make_shared<DeadlineWorker>(seconds(1), clock);
  std::weak_ptr<DeadlineWorker> weak = worker;
  std::function<void()> stuck = gate.Call();
  std::function<void()> call = [stuck, owner = worker] { stuck(); };
  auto result = std::async(std::launch::async,
                           [raw = worker.get(), &call] { return raw->Run(std::move(call)); });
  ASSERT_TRUE(clock.AwaitWaiting(1));
  while (gate.entered() == 0) {
    std::this_thread::yield();
  }
  clock.Advance(seconds(1));
  EXPECT_EQ(result.get(), Outcome::kTimedOut);
  worker.reset();
  EXPECT_FALSE(weak.expired());
  gate.Open();
  while (!weak.expired()) {
    std::this_thread::yield();
  }
}

}  // namespace
}  // namespace coffer
