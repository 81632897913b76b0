// Tests for the clocks: the fake clock moves only when told, the system clock is plausible.
#include "common/clock.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.Now(), 1000);
  EXPECT_EQ(clock.Now(), 1000);
  clock.Advance(5 * kMicrosPerSecond);
  EXPECT_EQ(clock.Now(), 1000 + 5 * kMicrosPerSecond);
  clock.Set(42);
  EXPECT_EQ(clock.Now(), 42);
}

TEST(SystemClockTest, IsMicrosecondsSinceEpoch) {
  SystemClock clock;
  const UnixMicros now = clock.Now();
  // After 2024-01-01 and before 2100-01-01, in microseconds.
  EXPECT_GT(now, 1'704'067'200LL * kMicrosPerSecond);
  EXPECT_LT(now, 4'102'444'800LL * kMicrosPerSecond);
  EXPECT_GE(clock.Now(), now);
}

}  // namespace
}  // namespace coffer
