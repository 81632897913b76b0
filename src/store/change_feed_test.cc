// ChangeFeed: watchers get every change published while subscribed and none after; the trust
// window of a feed of several writers.
#include "store/change_feed.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "common/monotonic_clock.h"

namespace coffer {
namespace {

TEST(ChangeFeedTest, EveryWatcherGetsEveryChangeWhileSubscribed) {
  ChangeFeed feed(ChangeFeed::Writers::kThisProcess);
  std::vector<StoreChange> first;
  std::vector<StoreChange> second;
  auto a = feed.Watch([&](const StoreChange& c) { first.push_back(c); });
  {
    auto b = feed.Watch([&](const StoreChange& c) { second.push_back(c); });
    feed.Publish(StoreChange::Vault("v1"));
  }
  feed.Publish(StoreChange::Principal(PrincipalKind::kAgent, "a1"));
  EXPECT_EQ(first, (std::vector<StoreChange>{StoreChange::Vault("v1"),
                                             StoreChange::Principal(PrincipalKind::kAgent, "a1")}));
  EXPECT_EQ(second, std::vector<StoreChange>{StoreChange::Vault("v1")});
}

TEST(ChangeFeedTest, AMovedSubscriptionStaysAndOneMayOutliveTheFeed) {
  int calls = 0;
  ChangeFeed::Subscription kept;
  {
    ChangeFeed feed(ChangeFeed::Writers::kThisProcess);
    auto made = feed.Watch([&](const StoreChange&) { ++calls; });
    kept = std::move(made);
    feed.Publish(StoreChange::Everything());
    EXPECT_EQ(calls, 1);
  }
  // The feed is gone; ending the subscription now is harmless.
  kept = ChangeFeed::Subscription();
  EXPECT_EQ(calls, 1);
}

TEST(ChangeFeedTest, OnlyThisProcessWritingIsAlwaysCurrent) {
  ChangeFeed feed(ChangeFeed::Writers::kThisProcess);
  EXPECT_TRUE(feed.Current());
  feed.TrustUntil(MonotonicTime::min());
  EXPECT_TRUE(feed.Current());
}

TEST(ChangeFeedTest, SharedIsCurrentOnlyWhileTheStoreVouchesForIt) {
  FakeMonotonicClock clock;
  ChangeFeed feed(ChangeFeed::Writers::kShared, clock);
  EXPECT_FALSE(feed.Current()) << "not before the store has vouched for it once";
  feed.TrustUntil(clock.Now() + kMaxChangeDelay);
  EXPECT_TRUE(feed.Current());
  clock.Advance(kMaxChangeDelay - std::chrono::nanoseconds(1));
  EXPECT_TRUE(feed.Current());
  clock.Advance(std::chrono::nanoseconds(1));
  EXPECT_FALSE(feed.Current()) << "a promise lapses by itself";
  feed.TrustUntil(clock.Now() + std::chrono::hours(1));
  EXPECT_TRUE(feed.Current());
  feed.TrustUntil(MonotonicTime::min());
  EXPECT_FALSE(feed.Current()) << "withdrawn at once";
}

}  // namespace
}  // namespace coffer
