// ChangeFeed: watchers get every change published while subscribed and none after; the trust
// window of a feed of several writers.
#include "store/change_feed.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace coffer {
namespace {

using Clock = std::chrono::steady_clock;

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
  feed.TrustUntil(Clock::time_point::min());
  EXPECT_TRUE(feed.Current());
}

TEST(ChangeFeedTest, SharedIsCurrentOnlyWhileTheStoreVouchesForIt) {
  ChangeFeed feed(ChangeFeed::Writers::kShared);
  EXPECT_FALSE(feed.Current()) << "not before the store has vouched for it once";
  feed.TrustUntil(Clock::now() + std::chrono::hours(1));
  EXPECT_TRUE(feed.Current());
  feed.TrustUntil(Clock::now() - std::chrono::milliseconds(1));
  EXPECT_FALSE(feed.Current()) << "a lapsed promise";
  feed.TrustUntil(Clock::time_point::min());
  EXPECT_FALSE(feed.Current());
}

}  // namespace
}  // namespace coffer
