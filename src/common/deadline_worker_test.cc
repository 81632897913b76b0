// Tests of DeadlineWorker: a call that overruns its deadline releases its caller, further calls
// fail at once while it is stuck, and the worker recovers when it returns. Time moves by hand.
#include "common/deadline_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "common/test_gate.h"

namespace coffer {
namespace {

using Outcome = DeadlineWorker::Outcome;
using std::chrono::seconds;

// Runs the gate's call on `worker` from another thread; returns once it runs (is not queued).
std::future<Outcome> RunStuck(DeadlineWorker& worker, TestGate& gate,
                              const FakeMonotonicClock& clock) {
  auto result = std::async(std::launch::async, [&] { return worker.Run(gate.Call()); });
  EXPECT_TRUE(clock.AwaitWaiting(1));
  gate.AwaitEntered(0);
  return result;
}

TEST(DeadlineWorkerTest, ACallStillQueuedAtItsDeadlineNeverRuns) {
  FakeMonotonicClock clock;
  TestGate gate(/*open=*/false);
  DeadlineWorker worker(seconds(2), clock);
  auto first = RunStuck(worker, gate, clock);
  int ran = 0;
  auto second = std::async(std::launch::async, [&] { return worker.Run([&] { ++ran; }); });
  ASSERT_TRUE(clock.AwaitWaiting(2));
  clock.Advance(seconds(2));  // both deadlines at once: the second never started
  EXPECT_EQ(first.get(), Outcome::kTimedOut);
  EXPECT_NE(second.get(), Outcome::kDone);
  gate.Set(true);
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
  TestGate gate(/*open=*/false);
  {
    DeadlineWorker worker(seconds(2), clock);
    auto first = RunStuck(worker, gate, clock);
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
    gate.Set(true);
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
  TestGate gate(/*open=*/false);
  auto worker = std::make_shared<DeadlineWorker>(seconds(1), clock);
  std::weak_ptr<DeadlineWorker> weak = worker;
  std::function<void()> stuck = gate.Call();
  std::function<void()> call = [stuck, owner = worker] { stuck(); };
  auto result = std::async(std::launch::async,
                           [raw = worker.get(), &call] { return raw->Run(std::move(call)); });
  ASSERT_TRUE(clock.AwaitWaiting(1));
  gate.AwaitEntered(0);
  clock.Advance(seconds(1));
  EXPECT_EQ(result.get(), Outcome::kTimedOut);
  worker.reset();
  EXPECT_FALSE(weak.expired());
  gate.Set(true);
  while (!weak.expired()) {
    std::this_thread::yield();
  }
}

}  // namespace
}  // namespace coffer
