// Tests for policy conditions: CIDR blocks of both families as tables of text and answers, hour
// windows (plain, past midnight, on chosen weekdays) at their boundaries, and the stored form.
#include "model/policy_conditions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"

namespace coffer {
namespace {

constexpr UnixMicros kHour = 3600 * kMicrosPerSecond;
constexpr UnixMicros kMinute = 60 * kMicrosPerSecond;
// 2026-01-01T00:00:00Z, a Thursday (day 4).
constexpr UnixMicros kThursday = 1'767'225'600LL * kMicrosPerSecond;

struct NetworkCase {
  std::string text;
  std::string canonical;  // "" when refused
};

TEST(IpNetworkTest, ParsesAndWritesBothFamiliesCanonically) {
  const std::vector<NetworkCase> cases = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"192.0.2.7", "192.0.2.7/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"2001:DB8::/32", "2001:db8::/32"},
      {"::1", "::1/128"},
      {"::/0", "::/0"},
      {"10.0.0.1/8", ""},  // host bits beyond the prefix
      {"10.0.0.0/33", ""},
      {"2001:db8::/129", ""},
      {"10.0.0.0/", ""},
      {"10.0.0.0/+8", ""},
      {"10.0.0.0/8/8", ""},
      {"example.com", ""},
      {"", ""},
      {"[::1]", ""},
  };
  for (const NetworkCase& c : cases) {
    auto parsed = ParseIpNetwork(c.text);
    if (c.canonical.empty()) {
      EXPECT_THAT(parsed, StatusIs(StatusCode::kInvalidArgument)) << c.text;
    } else {
      ASSERT_THAT(parsed, IsOk()) << c.text;
      EXPECT_EQ(FormatIpNetwork(*parsed), c.canonical) << c.text;
    }
  }
}

struct ContainsCase {
  std::string network;
  std::string ip;
  bool inside;
};

TEST(IpNetworkTest, ContainsComparesThePrefixOnly) {
  const std::vector<ContainsCase> cases = {
      {"10.0.0.0/8", "10.255.1.2", true},
      {"10.0.0.0/8", "11.0.0.1", false},
      {"192.0.2.128/25", "192.0.2.200", true},
      {"192.0.2.128/25", "192.0.2.127", false},
      {"0.0.0.0/0", "203.0.113.1", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"::/0", "2001:db8::1", true},
      {"::1/128", "::1", true},
      {"::1/128", "127.0.0.1", false},
      {"10.0.0.0/8", "", false},
      {"10.0.0.0/8", "not-an-address", false},
  };
  for (const ContainsCase& c : cases) {
    auto network = ParseIpNetwork(c.network);
    ASSERT_THAT(network, IsOk()) << c.network;
    EXPECT_EQ(IpNetworkContains(*network, c.ip), c.inside) << c.network << " " << c.ip;
  }
}

TEST(IpNetworkTest, AllowListsRoundTripThroughTheirStoredForm) {
  std::vector<IpNetwork> list;
  for (const char* text : {"10.0.0.0/8", "2001:db8::/32", "192.0.2.1"}) {
    list.push_back(ParseIpNetwork(text).value());
  }
  const std::string stored = JoinIpAllowlist(list);
  EXPECT_EQ(stored, "10.0.0.0/8 2001:db8::/32 192.0.2.1/32");
  auto back = SplitIpAllowlist(stored);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, list);
  EXPECT_TRUE(SplitIpAllowlist("").value().empty());
  EXPECT_THAT(SplitIpAllowlist("10.0.0.0/8 nonsense"), StatusIs(StatusCode::kDataLoss));
}

TEST(TimeWindowTest, HoursAreHalfOpenAndMayWrapPastMidnight) {
  const TimeWindow office{.start_hour = 9, .end_hour = 17};
  EXPECT_FALSE(TimeWindowContains(office, kThursday + 9 * kHour - 1));
  EXPECT_TRUE(TimeWindowContains(office, kThursday + 9 * kHour));
  EXPECT_TRUE(TimeWindowContains(office, kThursday + 17 * kHour - 1));
  EXPECT_FALSE(TimeWindowContains(office, kThursday + 17 * kHour));

  const TimeWindow night{.start_hour = 22, .end_hour = 6};
  EXPECT_TRUE(TimeWindowContains(night, kThursday + 23 * kHour));
  EXPECT_TRUE(TimeWindowContains(night, kThursday + 5 * kHour));
  EXPECT_FALSE(TimeWindowContains(night, kThursday + 6 * kHour));
  EXPECT_FALSE(TimeWindowContains(night, kThursday + 21 * kHour));

  const TimeWindow to_midnight{.start_hour = 20, .end_hour = 24};
  EXPECT_TRUE(TimeWindowContains(to_midnight, kThursday + 24 * kHour - 1));
  EXPECT_FALSE(TimeWindowContains(to_midnight, kThursday + 24 * kHour));
  // Before 1970 the floor division still finds the hour: 1969-12-31T23:30Z is 23:00's hour.
  EXPECT_TRUE(TimeWindowContains(to_midnight, -kHour / 2));
}

TEST(TimeWindowTest, DaysAreTheDayOfTheMomentChecked) {
  TimeWindow weekdays{.days = 0b0111110};  // Monday to Friday
  EXPECT_TRUE(TimeWindowContains(weekdays, kThursday));
  EXPECT_TRUE(TimeWindowContains(weekdays, kThursday + 2 * 24 * kHour - 1));  // Friday 23:59
  EXPECT_FALSE(TimeWindowContains(weekdays, kThursday + 2 * 24 * kHour));     // Saturday
  EXPECT_FALSE(TimeWindowContains(weekdays, kThursday + 3 * 24 * kHour));     // Sunday
  EXPECT_TRUE(TimeWindowContains(weekdays, kThursday + 4 * 24 * kHour));      // Monday
  const TimeWindow sunday{.days = 1};
  EXPECT_TRUE(TimeWindowContains(sunday, kThursday + 3 * 24 * kHour + 12 * kHour));
  EXPECT_FALSE(TimeWindowContains(sunday, kThursday - 12 * kHour));  // Wednesday noon
}

TEST(TimeWindowTest, ValidationNamesTheField) {
  const std::vector<std::pair<TimeWindow, std::string>> refused = {
      {{.start_hour = 24}, "start_hour"},
      {{.start_hour = -1}, "start_hour"},
      {{.end_hour = 25}, "end_hour"},
      {{.start_hour = 5, .end_hour = 5}, "end_hour"},
      {{.days = 0}, "days_of_week"},
      {{.days = 0x80}, "days_of_week"},
      {{.timezone = "Mars/Olympus_Mons"}, "timezone"},
      {{.timezone = "../../etc/passwd"}, "timezone"},
      {{.timezone = ""}, "timezone"},
  };
  for (const auto& [window, field] : refused) {
    Status s = ValidateTimeWindow(window);
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument)) << field;
    EXPECT_NE(s.message().find("conditions.time_window." + field), std::string::npos)
        << s.message();
  }
  EXPECT_THAT(ValidateTimeWindow({}), IsOk());
  EXPECT_THAT(ValidateTimeWindow({.start_hour = 0, .end_hour = 24}), IsOk());
  EXPECT_THAT(ValidateTimeWindow({.start_hour = 5, .end_hour = 0}), IsOk());
  EXPECT_THAT(ValidateTimeWindow({.timezone = "America/New_York"}), IsOk());
  EXPECT_THAT(ValidateTimeWindow({.timezone = "Asia/Kolkata"}), IsOk());
}

TEST(TimeWindowTest, HoursAndDaysAreThoseOfTheZonesWallClockDaylightSavingIncluded) {
  // 09:00-17:00 on weekdays in New York: UTC-5 in January, UTC-4 (daylight saving) in July.
  const TimeWindow office{
      .start_hour = 9, .end_hour = 17, .days = 0x3e, .timezone = "America/New_York"};
  const UnixMicros jan15 = 1'768'435'200LL * kMicrosPerSecond;  // 2026-01-15T00:00:00Z, a Thursday
  EXPECT_FALSE(TimeWindowContains(office, jan15 + 13 * kHour + 59 * kMinute));  // 08:59 EST
  EXPECT_TRUE(TimeWindowContains(office, jan15 + 14 * kHour));                  // 09:00 EST
  EXPECT_TRUE(TimeWindowContains(office, jan15 + 21 * kHour + 59 * kMinute));   // 16:59 EST
  EXPECT_FALSE(TimeWindowContains(office, jan15 + 22 * kHour));                 // 17:00 EST
  const UnixMicros jul16 = 1'784'160'000LL * kMicrosPerSecond;   // 2026-07-16T00:00:00Z, a Thursday
  EXPECT_TRUE(TimeWindowContains(office, jul16 + 13 * kHour));   // 09:00 EDT
  EXPECT_FALSE(TimeWindowContains(office, jul16 + 21 * kHour));  // 17:00 EDT
  // Friday 02:00 UTC is still Thursday 21:00 in New York: the zone's day decides, not UTC's.
  const TimeWindow thursday_evening{
      .start_hour = 20, .end_hour = 23, .days = 1 << 4, .timezone = "America/New_York"};
  EXPECT_TRUE(TimeWindowContains(thursday_evening, jan15 + 26 * kHour));
  // Half-hour offsets: 09:00 in Kolkata is 03:30 UTC.
  const TimeWindow kolkata{.start_hour = 9, .end_hour = 10, .timezone = "Asia/Kolkata"};
  EXPECT_FALSE(TimeWindowContains(kolkata, jan15 + 3 * kHour + 29 * kMinute));
  EXPECT_TRUE(TimeWindowContains(kolkata, jan15 + 3 * kHour + 30 * kMinute));
  // An unknown zone is never in force (and KnownTimeZone says why).
  const TimeWindow unknown{.start_hour = 0, .end_hour = 24, .timezone = "Mars/Olympus_Mons"};
  EXPECT_FALSE(TimeWindowContains(unknown, jan15));
  EXPECT_FALSE(KnownTimeZone("Mars/Olympus_Mons"));
  EXPECT_TRUE(KnownTimeZone("UTC"));
  EXPECT_TRUE(KnownTimeZone("Europe/Paris"));
}

}  // namespace
}  // namespace coffer
