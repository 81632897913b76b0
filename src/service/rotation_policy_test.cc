// RotationPolicy parsing (every refusal names its field), due-time arithmetic, and cron
// expressions: fields, ranges, steps, lists, names, and the next matching minute.
#include "service/rotation_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "service/cron_schedule.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;

constexpr std::chrono::seconds kMin{60};
constexpr int64_t kSec = 1'000'000;
// 2026-01-05 00:00:00 UTC, a Monday.
constexpr UnixMicros kMonday = 1'767'571'200'000'000;

TEST(RotationPolicyTest, ParsesEveryField) {
  auto p = ParseRotationPolicy(
      R"({"interval":"30d","action":"rotate","generate":{"length":48,"charset":"base64"},
          "previous":{"action":"disable","grace_seconds":"1h"},"stage":"current"})",
      kMin);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->interval_seconds, 30 * 86400);
  EXPECT_EQ(p->length, 48);
  EXPECT_EQ(p->charset, "base64");
  EXPECT_TRUE(p->disable_previous);
  EXPECT_EQ(p->grace_seconds, 3600);
  EXPECT_EQ(RotationPolicyJson(*p),
            R"({"interval":2592000,"action":"rotate","generate":{"length":48,"charset":"base64"},)"
            R"("previous":{"action":"disable","grace_seconds":3600},"stage":"current"})");
  // The canonical form parses to the same policy.
  auto again = ParseRotationPolicy(RotationPolicyJson(*p), kMin);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(RotationPolicyJson(*again), RotationPolicyJson(*p));
}

TEST(RotationPolicyTest, AcceptsSecondsIntervalDaysCronAndNotify) {
  auto seconds = ParseRotationPolicy(R"({"interval":120})", kMin);
  ASSERT_THAT(seconds, IsOk());
  EXPECT_EQ(seconds->interval_seconds, 120);
  auto days = ParseRotationPolicy(R"({"interval_days":30})", kMin);
  ASSERT_THAT(days, IsOk());
  EXPECT_EQ(days->interval_seconds, 30 * 86400);
  auto cron = ParseRotationPolicy(R"({"cron":"0 3 * * 1","action":"notify"})", kMin);
  ASSERT_THAT(cron, IsOk());
  EXPECT_EQ(cron->cron, "0 3 * * 1");
  EXPECT_EQ(cron->action, RotationPolicy::Action::kNotify);
  EXPECT_EQ(RotationPolicyJson(*cron), R"({"cron":"0 3 * * 1","action":"notify"})");
  // A server that allows shorter intervals (tests, operators).
  EXPECT_THAT(ParseRotationPolicy(R"({"interval":"2s"})", std::chrono::seconds(1)), IsOk());
}

struct Refusal {
  const char* json;
  const char* message;
};

TEST(RotationPolicyTest, RefusalsNameTheField) {
  const Refusal cases[] = {
      {R"([])", "rotation_policy must be a JSON object"},
      {R"({})", "rotation_policy.interval or rotation_policy.cron"},
      {R"({"interval":"1h","cron":"* * * * *"})", "exactly one"},
      {R"({"interval":"30s"})", "rotation_policy.interval must be at least 1m"},
      {R"({"interval":"soon"})", "rotation_policy.interval must be a duration"},
      {R"({"interval":-5})", "rotation_policy.interval must be a duration"},
      {R"({"interval":true})", "rotation_policy.interval must be a number of seconds"},
      {R"({"interval":"99999w"})", "rotation_policy.interval must be a duration"},
      {R"({"interval_days":0})", "rotation_policy.interval_days must be a whole number"},
      {R"({"cron":"* * *"})", "rotation_policy.cron needs 5 fields"},
      {R"({"cron":"61 * * * *"})", "rotation_policy.cron minute field: 61 is out of 0-59"},
      {R"({"cron":"0 0 30 2 *"})", "rotation_policy.cron never fires"},
      {R"({"cron":"* * * * *"})", "ok"},
      {R"({"cron":"*/5 * * * * *"})", "rotation_policy.cron needs 5 fields"},
      {R"({"interval":"1h","action":"delete"})", "rotation_policy.action must be"},
      {R"({"interval":"1h","generate":{"length":4}})", "rotation_policy.generate.length must"},
      {R"({"interval":"1h","generate":{"charset":"emoji"}})", "rotation_policy.generate.charset"},
      {R"({"interval":"1h","generate":{"size":4}})",
       "rotation_policy.generate.size is not a field"},
      {R"({"interval":"1h","previous":{"action":"burn"}})", "rotation_policy.previous.action"},
      {R"({"interval":"1h","previous":{"grace_seconds":5}})",
       "rotation_policy.previous.grace_seconds applies only"},
      {R"({"interval":"1h","stage":"later"})", "rotation_policy.stage must be"},
      {R"({"interval":"1h","every":"1h"})", "rotation_policy.every is not a field"},
      {R"({"interval":"1h","action":"notify","generate":{}})", "rotation_policy.action"},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.json);
    auto p = ParseRotationPolicy(c.json, kMin);
    if (std::string_view(c.message) == "ok") {
      EXPECT_THAT(p, IsOk());
      continue;
    }
    ASSERT_THAT(p, StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(p.error().message()), HasSubstr(c.message));
  }
}

TEST(RotationPolicyTest, PendingStageIsAccepted) {
  auto p = ParseRotationPolicy(R"({"interval":"1h","stage":"pending"})", kMin);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->stage, RotationPolicy::Stage::kPending);
}

TEST(RotationPolicyTest, CronFiringTooOftenIsRefused) {
  auto p = ParseRotationPolicy(R"({"cron":"*/5 * * * *"})", std::chrono::seconds(3600));
  ASSERT_THAT(p, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(p.error().message()), HasSubstr("rotation_policy.cron fires more often"));
}

TEST(RotationPolicyTest, AMissedIntervalIsCaughtUpOnce) {
  auto p = ParseRotationPolicy(R"({"interval":"1h"})", kMin);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(FirstRotationAt(*p, kMonday), kMonday + 3600 * kSec);
  // Handled on time: the next is one interval on.
  EXPECT_EQ(NextRotationAt(*p, kMonday, kMonday + 5 * kSec), kMonday + 3600 * kSec);
  // Down for 5.5 hours: one rotation now, the next on the original grid after now.
  EXPECT_EQ(NextRotationAt(*p, kMonday, kMonday + 19800 * kSec), kMonday + 6 * 3600 * kSec);
  // Exactly on a grid point: that one counts as missed, the next is after it.
  EXPECT_EQ(NextRotationAt(*p, kMonday, kMonday + 7200 * kSec), kMonday + 3 * 3600 * kSec);
}

TEST(RotationPolicyTest, CronDueTimesFollowTheExpression) {
  auto p = ParseRotationPolicy(R"({"cron":"0 3 * * 1"})", kMin);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(FirstRotationAt(*p, kMonday), kMonday + 3 * 3600 * kSec);
  // Missed for two weeks: the next is the first Monday 03:00 after now.
  const UnixMicros now = kMonday + 15 * 86400 * kSec;  // Tuesday of the third week
  EXPECT_EQ(NextRotationAt(*p, kMonday + 3 * 3600 * kSec, now),
            kMonday + (21 * 86400 + 3 * 3600) * kSec);
}

TEST(RotationPolicyTest, DurationsTakeUnits) {
  EXPECT_EQ(ParseDurationSeconds("45"), 45);
  EXPECT_EQ(ParseDurationSeconds("45s"), 45);
  EXPECT_EQ(ParseDurationSeconds("90m"), 5400);
  EXPECT_EQ(ParseDurationSeconds("12h"), 43200);
  EXPECT_EQ(ParseDurationSeconds("7d"), 604800);
  EXPECT_EQ(ParseDurationSeconds("2w"), 1209600);
  EXPECT_EQ(ParseDurationSeconds(""), std::nullopt);
  EXPECT_EQ(ParseDurationSeconds("d"), std::nullopt);
  EXPECT_EQ(ParseDurationSeconds("1.5h"), std::nullopt);
  EXPECT_EQ(ParseDurationSeconds("-1s"), std::nullopt);
}

struct CronCase {
  const char* expression;
  UnixMicros after;
  UnixMicros want;
};

TEST(CronScheduleTest, NextMatchesRangesStepsListsAndNames) {
  const int64_t m = 60 * kSec;
  const int64_t h = 60 * m;
  const int64_t d = 24 * h;
  const CronCase cases[] = {
      {"* * * * *", kMonday, kMonday + m},  // strictly after
      {"* * * * *", kMonday + 30 * kSec, kMonday + m},
      {"*/15 * * * *", kMonday + m, kMonday + 15 * m},
      {"5,10 * * * *", kMonday + 6 * m, kMonday + 10 * m},
      {"10-12 4 * * *", kMonday, kMonday + 4 * h + 10 * m},
      {"0 9-17/4 * * *", kMonday + 10 * h, kMonday + 13 * h},
      {"0 0 * * sat", kMonday, kMonday + 5 * d},
      {"0 0 * * 7", kMonday, kMonday + 6 * d},  // 7 is Sunday
      {"0 0 * * MON-FRI", kMonday + 4 * d + h, kMonday + 7 * d},
      {"0 0 1 feb *", kMonday, kMonday + 27 * d},       // 2026-02-01
      {"0 0 1 * mon", kMonday + h, kMonday + 7 * d},    // either day field: next Monday first
      {"0 12 29 2 *", kMonday, 1'835'438'400'000'000},  // 2028-02-29 12:00
  };
  for (const CronCase& c : cases) {
    SCOPED_TRACE(c.expression);
    auto cron = CronSchedule::Parse(c.expression);
    ASSERT_THAT(cron, IsOk());
    EXPECT_EQ(cron->Next(c.after), c.want);
  }
}

TEST(CronScheduleTest, RefusesMalformedFields) {
  for (const char* bad :
       {"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
        "*/0 * * * *", "5-1 * * * *", "a * * * *", "* * * foo *", "1,,2 * * * *"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(CronSchedule::Parse(bad), StatusIs(StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace coffer
