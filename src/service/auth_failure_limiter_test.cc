// Tests for AuthFailureLimiter: the burst and refill of each address's budget, the counted
// refusals and their summaries (at most one per address and interval), and bounded memory.
#include "service/auth_failure_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace coffer {
namespace {

constexpr UnixMicros kT0 = 1'767'225'600LL * kMicrosPerSecond;
constexpr UnixMicros kSecond = kMicrosPerSecond;

AuthFailureLimiter::Options Small() {
  return {.burst = 3, .per_minute = 60, .max_clients = 100, .summary_interval = 60 * kSecond};
}

TEST(AuthFailureLimiterTest, AnAddressThatNeverFailedIsAdmittedAndNotTracked) {
  AuthFailureLimiter limiter(Small());
  EXPECT_EQ(limiter.Admit("203.0.113.1", kT0), 0);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(AuthFailureLimiterTest, TheBurstIsSpentThenOneTokenPerRefillPeriod) {
  AuthFailureLimiter limiter(Small());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(limiter.Admit("a", kT0), 0) << i;
    limiter.NoteFailure("a", kT0);
  }
  const UnixMicros wait = limiter.Admit("a", kT0);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, kSecond);  // 60 per minute: one token a second
  EXPECT_GT(limiter.Admit("a", kT0 + kSecond / 2), 0);
  EXPECT_EQ(limiter.Admit("a", kT0 + kSecond), 0);
  limiter.NoteFailure("a", kT0 + kSecond);
  EXPECT_GT(limiter.Admit("a", kT0 + kSecond), 0);
  // Another address has its own budget.
  EXPECT_EQ(limiter.Admit("b", kT0), 0);
  // Idle long enough, the bucket is full again (and no fuller than the burst).
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(limiter.Admit("a", kT0 + 3600 * kSecond), 0);
    limiter.NoteFailure("a", kT0 + 3600 * kSecond);
  }
  EXPECT_GT(limiter.Admit("a", kT0 + 3600 * kSecond), 0);
}

TEST(AuthFailureLimiterTest, RefusalsAreCountedAndSummarisedAtMostOncePerInterval) {
  AuthFailureLimiter limiter(Small());
  for (int i = 0; i < 3; ++i) limiter.NoteFailure("a", kT0);
  for (int i = 0; i < 10; ++i) ASSERT_GT(limiter.Admit("a", kT0 + i), 0);
  auto first = limiter.TakeSummaries(kT0 + kSecond / 2, false);
  ASSERT_EQ(first.size(), 1u) << "the first summary is due at once";
  EXPECT_EQ(first[0].client, "a");
  EXPECT_EQ(first[0].refused, 10);
  EXPECT_EQ(first[0].first, kT0);
  EXPECT_EQ(first[0].last, kT0 + 9);
  // More refusals within the interval wait for it to pass.
  limiter.NoteFailure("a", kT0 + kSecond);
  for (int i = 0; i < 5; ++i) ASSERT_GT(limiter.Admit("a", kT0 + kSecond), 0);
  EXPECT_TRUE(limiter.TakeSummaries(kT0 + 30 * kSecond, false).empty());
  auto second = limiter.TakeSummaries(kT0 + kSecond / 2 + 60 * kSecond, false);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].refused, 5);
  // Nothing pending: nothing due, and the address is forgotten once idle and full again.
  EXPECT_TRUE(limiter.TakeSummaries(kT0 + 200 * kSecond, false).empty());
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(AuthFailureLimiterTest, AllTakesEveryPendingCount) {
  AuthFailureLimiter limiter(Small());
  for (const char* client : {"a", "b"}) {
    for (int i = 0; i < 3; ++i) limiter.NoteFailure(client, kT0);
    ASSERT_GT(limiter.Admit(client, kT0), 0);
  }
  ASSERT_EQ(limiter.TakeSummaries(kT0, false).size(), 2u);
  ASSERT_GT(limiter.Admit("a", kT0 + 1), 0);
  EXPECT_TRUE(limiter.TakeSummaries(kT0 + 2, false).empty());
  auto all = limiter.TakeSummaries(kT0 + 2, true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].client, "a");
  EXPECT_EQ(all[0].refused, 1);
}

TEST(AuthFailureLimiterTest, MemoryIsBoundedAndAForgottenCountIsStillReported) {
  AuthFailureLimiter::Options options = Small();
  options.max_clients = 4;
  AuthFailureLimiter limiter(options);
  for (int i = 0; i < 3; ++i) limiter.NoteFailure("first", kT0);
  ASSERT_GT(limiter.Admit("first", kT0), 0);
  ASSERT_GT(limiter.Admit("first", kT0), 0);
  for (int n = 0; n < 50; ++n) {
    limiter.NoteFailure("198.51.100." + std::to_string(n), kT0 + 1 + n);
    EXPECT_LE(limiter.tracked(), 4u);
  }
  // The least recently seen went first; its count was kept for the next summaries.
  EXPECT_EQ(limiter.Admit("first", kT0 + 100), 0) << "forgotten: a full bucket again";
  auto due = limiter.TakeSummaries(kT0 + 100, false);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].client, "first");
  EXPECT_EQ(due[0].refused, 2);
}

TEST(AuthFailureLimiterTest, FailuresAdmittedTogetherArePaidBackBeforeTheNextAdmission) {
  AuthFailureLimiter limiter(Small());
  for (int i = 0; i < 3; ++i) limiter.NoteFailure("a", kT0);
  // A second later one token: four requests on four connections are all admitted ...
  for (int i = 0; i < 4; ++i) ASSERT_EQ(limiter.Admit("a", kT0 + kSecond), 0);
  for (int i = 0; i < 4; ++i) limiter.NoteFailure("a", kT0 + kSecond);
  // ... and the three too many are paid back first: the next admission is 4 s later.
  const UnixMicros wait = limiter.Admit("a", kT0 + kSecond);
  EXPECT_GT(wait, 3 * kSecond);
  EXPECT_LE(wait, 4 * kSecond);
  EXPECT_GT(limiter.Admit("a", kT0 + 4 * kSecond), 0);
  EXPECT_EQ(limiter.Admit("a", kT0 + 5 * kSecond), 0);
  // The debt is bounded by the burst.
  for (int i = 0; i < 100; ++i) limiter.NoteFailure("b", kT0);
  EXPECT_GT(limiter.Admit("b", kT0 + 3 * kSecond), 0);
  EXPECT_EQ(limiter.Admit("b", kT0 + 4 * kSecond), 0) << "100 failures owe no more than the burst";
}

TEST(AuthFailureLimiterTest, AClockSteppedBackEarnsNothing) {
  AuthFailureLimiter limiter(Small());
  for (int i = 0; i < 3; ++i) limiter.NoteFailure("a", kT0);
  EXPECT_GT(limiter.Admit("a", kT0 - 3600 * kSecond), 0);
  EXPECT_GT(limiter.Admit("a", kT0), 0);
}

}  // namespace
}  // namespace coffer
