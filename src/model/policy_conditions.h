// When a policy is in force: an hour-of-day and day-of-week window, and a list of client
// networks (IPv4 and IPv6 CIDR blocks). A policy without conditions is always in force (until it
// expires); a policy with both is in force only when both hold.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace coffer {

// An address block. IPv4 is kept mapped into ::ffff:0:0/96 so both families compare in one
// form; `is_v4` says how to write it back.
struct IpNetwork {
  std::array<uint8_t, 16> address{};  // host bits are zero
  int prefix_bits = 128;              // of the 128-bit form
  bool is_v4 = false;

  bool operator==(const IpNetwork&) const = default;
};

// "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128). Host bits set below the
// prefix ("10.0.0.1/8") are refused, since they usually mean a typo. kInvalidArgument saying what
// is wrong (the text itself is not repeated).
StatusOr<IpNetwork> ParseIpNetwork(std::string_view text);
// Canonical text: "192.0.2.0/24", "2001:db8::/32".
std::string FormatIpNetwork(const IpNetwork& network);
// Whether `ip` (textual IPv4 or IPv6, as the server derives the client address) lies in the
// block. An address that does not parse lies in none.
bool IpNetworkContains(const IpNetwork& network, std::string_view ip);
// Whether `text` is an IPv4 or IPv6 address.
bool IsIpAddress(std::string_view text);

// Hours of the day on some days of the week, in the local time of an IANA time zone
// ("America/New_York"; "UTC" by default), from the system's time zone database (tzdata).
struct TimeWindow {
  int start_hour = 0;   // 0..23, the first hour in force
  int end_hour = 24;    // 1..24, the hour at which it stops; below start_hour: wraps past midnight
  uint8_t days = 0x7f;  // bit d = day d of the week, 0 = Sunday; the day of the moment checked
  std::string timezone = "UTC";

  bool operator==(const TimeWindow&) const = default;
};

inline constexpr uint8_t kAllDays = 0x7f;

// OK, or kInvalidArgument naming the field at fault (start_hour, end_hour, days_of_week,
// timezone) with "conditions.time_window." before it.
// An unknown timezone is refused.
Status ValidateTimeWindow(const TimeWindow& window);

// Whether `zone` names a time zone of the system's database ("UTC" always does).
bool KnownTimeZone(std::string_view zone);
// Whether `now` lies in the window.
// Whether `now` lies in the window, read in the window's time zone: its hour and day of the week
// there. False when the zone is unknown (KnownTimeZone tells the two apart). Thread-safe.
bool TimeWindowContains(const TimeWindow& window, UnixMicros now);

struct PolicyConditions {
  std::optional<TimeWindow> time_window;
  std::vector<IpNetwork> ip_allowlist;  // empty: any address

  bool empty() const { return !time_window.has_value() && ip_allowlist.empty(); }
  bool operator==(const PolicyConditions&) const = default;
};

// The allow list as stored: canonical blocks joined by single spaces ("" for none).
std::string JoinIpAllowlist(const std::vector<IpNetwork>& list);
// The inverse of JoinIpAllowlist. kDataLoss when a stored entry does not parse.
StatusOr<std::vector<IpNetwork>> SplitIpAllowlist(std::string_view stored);

}  // namespace coffer
