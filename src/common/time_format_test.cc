// Tests for RFC 3339 formatting and parsing: round trips, offsets, fractions, leap years and
// the inputs that must be refused.
#include "common/time_format.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;

constexpr UnixMicros S(int64_t seconds) { return seconds * kMicrosPerSecond; }

UnixMicros ParseOk(std::string_view text) {
  auto t = ParseRfc3339(text);
  EXPECT_TRUE(t.has_value()) << text << ": " << (t.has_value() ? "" : t.error().ToString());
  return t.value_or(-1);
}

TEST(FormatRfc3339Test, WholeSeconds) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(S(1771416000)), "2026-02-18T12:00:00Z");
  EXPECT_EQ(FormatRfc3339(S(951782400)), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(S(253402300799)), "9999-12-31T23:59:59Z");
}

TEST(FormatRfc3339Test, Fractions) {
  EXPECT_EQ(FormatRfc3339(S(1771416000) + 1), "2026-02-18T12:00:00.000001Z");
  EXPECT_EQ(FormatRfc3339(S(1771416000) + 500000), "2026-02-18T12:00:00.500000Z");
  EXPECT_EQ(FormatRfc3339(S(1771416000) + 999999), "2026-02-18T12:00:00.999999Z");
}

TEST(FormatRfc3339Test, BeforeEpoch) {
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(S(-1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(S(-86400)), "1969-12-31T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(S(-1) - 1), "1969-12-31T23:59:58.999999Z");
}

TEST(ParseRfc3339Test, Utc) {
  EXPECT_EQ(ParseOk("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00Z"), S(1771416000));
  EXPECT_EQ(ParseOk("2026-02-18t12:00:00z"), S(1771416000));
  EXPECT_EQ(ParseOk("2026-02-18 12:00:00Z"), S(1771416000));
  EXPECT_EQ(ParseOk("1969-12-31T23:59:59Z"), S(-1));
  EXPECT_EQ(ParseOk("0000-01-01T00:00:00Z"), S(-62167219200));
}

TEST(ParseRfc3339Test, Offsets) {
  const UnixMicros noon_utc = S(1771416000);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00+00:00"), noon_utc);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00-00:00"), noon_utc);
  EXPECT_EQ(ParseOk("2026-02-18T13:00:00+01:00"), noon_utc);
  EXPECT_EQ(ParseOk("2026-02-18T17:30:00+05:30"), noon_utc);
  EXPECT_EQ(ParseOk("2026-02-18T07:00:00-05:00"), noon_utc);
  // An offset that crosses midnight and a month boundary.
  EXPECT_EQ(ParseOk("2026-02-28T23:00:00-23:59"), ParseOk("2026-03-01T22:59:00Z"));
  EXPECT_EQ(ParseOk("2026-03-01T00:30:00+01:00"), ParseOk("2026-02-28T23:30:00Z"));
}

TEST(ParseRfc3339Test, Fractions) {
  const UnixMicros base = S(1771416000);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00.5Z"), base + 500000);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00.05Z"), base + 50000);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00.000001Z"), base + 1);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00.123456Z"), base + 123456);
  // More than microsecond precision is truncated, not rounded.
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00.1234569Z"), base + 123456);
  EXPECT_EQ(ParseOk("2026-02-18T12:00:00.999999999Z"), base + 999999);
  EXPECT_EQ(ParseOk("2026-02-18T13:00:00.25+01:00"), base + 250000);
}

TEST(ParseRfc3339Test, LeapYears) {
  EXPECT_EQ(ParseOk("2024-02-29T00:00:00Z"), S(1709164800));
  EXPECT_EQ(ParseOk("2000-02-29T00:00:00Z"), S(951782400));  // divisible by 400
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("1900-02-29T00:00:00Z").has_value());  // divisible by 100 only
  EXPECT_FALSE(ParseRfc3339("2024-02-30T00:00:00Z").has_value());
  EXPECT_EQ(ParseOk("2024-03-01T00:00:00Z") - ParseOk("2024-02-28T00:00:00Z"), S(2 * 86400));
  EXPECT_EQ(ParseOk("2023-03-01T00:00:00Z") - ParseOk("2023-02-28T00:00:00Z"), S(86400));
  EXPECT_EQ(ParseOk("2024-12-31T00:00:00Z") - ParseOk("2024-01-01T00:00:00Z"), S(365 * 86400));
}

TEST(ParseRfc3339Test, MonthLengths) {
  for (const std::string_view ok : {"2026-01-31T00:00:00Z", "2026-04-30T00:00:00Z",
                                    "2026-12-31T00:00:00Z", "2026-06-30T00:00:00Z"}) {
    EXPECT_TRUE(ParseRfc3339(ok).has_value()) << ok;
  }
  for (const std::string_view bad :
       {"2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z", "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-00T00:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(ParseRfc3339Test, LeapSecondIsClamped) {
  EXPECT_EQ(ParseOk("2016-12-31T23:59:60Z"), ParseOk("2016-12-31T23:59:59Z"));
}

TEST(ParseRfc3339Test, RoundTrip) {
  for (const UnixMicros t : {UnixMicros{0}, UnixMicros{1}, S(1771416000) + 123456, S(951782400),
                             S(-1) - 1, S(4102444799) + 999999}) {
    EXPECT_EQ(ParseOk(FormatRfc3339(t)), t) << FormatRfc3339(t);
  }
}

TEST(ParseRfc3339Test, RefusesBadInput) {
  for (const std::string_view bad : {
           "",
           "2026",
           "2026-02-18",
           "2026-02-18T12:00:00",         // no zone
           "2026-02-18T12:00Z",           // no seconds
           "2026-02-18X12:00:00Z",        // bad separator
           "2026/02/18T12:00:00Z",        // bad date separator
           "2026-2-18T12:00:00Z",         // one-digit month
           "26-02-18T12:00:00Z",          // two-digit year
           "2026-13-01T00:00:00Z",        // month 13
           "2026-00-01T00:00:00Z",        // month 0
           "2026-02-18T24:00:00Z",        // hour 24
           "2026-02-18T12:60:00Z",        // minute 60
           "2026-02-18T12:00:61Z",        // second 61
           "2026-02-18T12:00:00.Z",       // empty fraction
           "2026-02-18T12:00:00,5Z",      // comma fraction
           "2026-02-18T12:00:00+0100",    // offset without colon
           "2026-02-18T12:00:00+01",      // short offset
           "2026-02-18T12:00:00+01:",     // truncated offset
           "2026-02-18T12:00:00+01:0",    // truncated offset
           "2026-02-18T12:00:00+24:00",   // offset hours out of range
           "2026-02-18T12:00:00+01:60",   // offset minutes out of range
           "2026-02-18T12:00:00ZZ",       // trailing characters
           "2026-02-18T12:00:00Z ",       // trailing space
           " 2026-02-18T12:00:00Z",       // leading space
           "2026-02-18T12:00:00UTC",      // named zone
           "2026-02-18T1a:00:00Z",        // letter in time
           "+2026-02-18T12:00:00Z",       // sign
           "2026-02-18T12:00:00+01:00Z",  // both
       }) {
    auto t = ParseRfc3339(bad);
    EXPECT_THAT(t, StatusIs(StatusCode::kInvalidArgument, HasSubstr("RFC 3339")))
        << "accepted: '" << bad << "'";
  }
}

}  // namespace
}  // namespace coffer
