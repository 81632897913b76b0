// Parsing and evaluation of policy conditions: CIDR blocks (common/ip_address.h), hours and
// weekdays by integer arithmetic on Unix time (UTC).
#include "model/policy_conditions.h"

#include <date/tz.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "common/ip_address.h"

namespace coffer {
namespace {

constexpr UnixMicros kMicrosPerHour = 3600 * kMicrosPerSecond;

// How far `zone`'s wall clock is ahead of UTC at `at`; nullopt for a zone the database does not
// know. "UTC" needs no database.
std::optional<UnixMicros> UtcOffset(std::string_view zone, UnixMicros at) {
  if (zone == "UTC") return 0;
  try {
    const date::time_zone* tz = date::locate_zone(std::string(zone));
    const auto seconds = std::chrono::floor<std::chrono::seconds>(std::chrono::microseconds(at));
    const date::sys_info info = tz->get_info(date::sys_seconds(seconds));
    return std::chrono::duration_cast<std::chrono::microseconds>(info.offset).count();
  } catch (const std::exception&) {  // unknown zone, or no database to look in
    return std::nullopt;
  }
}
constexpr int64_t kHoursPerDay = 24;

}  // namespace

StatusOr<IpNetwork> ParseIpNetwork(std::string_view text) {
  std::string_view address = text;
  std::optional<int> bits;
  if (const size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    const std::string_view b = text.substr(slash + 1);
    int value = -1;
    auto [ptr, ec] = std::from_chars(b.data(), b.data() + b.size(), value);
    if (b.empty() || ec != std::errc() || ptr != b.data() + b.size()) {
      return Err(InvalidArgumentError("the prefix length after '/' must be a number"));
    }
    bits = value;
  }
  IpNetwork net;
  const std::optional<IpAddress> parsed = ParseIpAddress(address);
  if (!parsed.has_value()) {
    return Err(InvalidArgumentError("not an IPv4 or IPv6 address or CIDR block"));
  }
  net.address = parsed->bytes;
  net.is_v4 = parsed->is_v4;
  const int max_bits = net.is_v4 ? 32 : 128;
  const int prefix = bits.value_or(max_bits);
  if (prefix < 0 || prefix > max_bits) {
    return Err(
        InvalidArgumentError(fmt::format("the prefix length must be between 0 and {}", max_bits)));
  }
  net.prefix_bits = net.is_v4 ? prefix + 96 : prefix;
  std::array<uint8_t, 16> masked{};
  for (int i = 0; i < net.prefix_bits; ++i) {
    const auto bit = static_cast<uint8_t>(0x80 >> (i % 8));
    masked[static_cast<size_t>(i / 8)] |= net.address[static_cast<size_t>(i / 8)] & bit;
  }
  if (masked != net.address) {
    return Err(InvalidArgumentError("the address has bits set beyond the prefix length"));
  }
  return net;
}

std::string FormatIpNetwork(const IpNetwork& network) {
  const IpAddress address{network.address, network.is_v4};
  return fmt::format("{}/{}", FormatIpAddress(address),
                     network.is_v4 ? network.prefix_bits - 96 : network.prefix_bits);
}

bool IpNetworkContains(const IpNetwork& network, std::string_view ip) {
  const std::optional<IpAddress> address = ParseIpAddress(ip);
  return address.has_value() && SameIpPrefix(address->bytes, network.address, network.prefix_bits);
}

bool IsIpAddress(std::string_view text) { return ParseIpAddress(text).has_value(); }

Status ValidateTimeWindow(const TimeWindow& window) {
  if (window.start_hour < 0 || window.start_hour > 23) {
    return InvalidArgumentError("conditions.time_window.start_hour must be between 0 and 23");
  }
  if (window.end_hour < 0 || window.end_hour > 24) {
    return InvalidArgumentError("conditions.time_window.end_hour must be between 0 and 24");
  }
  if (window.start_hour == window.end_hour) {
    return InvalidArgumentError(
        "conditions.time_window.end_hour must differ from start_hour (leave both out for the "
        "whole day)");
  }
  if (window.days == 0 || (window.days & ~kAllDays) != 0) {
    return InvalidArgumentError(
        "conditions.time_window.days_of_week must name at least one day, 0 (Sunday) to 6");
  }
  if (!KnownTimeZone(window.timezone)) {
    return InvalidArgumentError(
        "conditions.time_window.timezone must be an IANA time zone name, e.g. "
        "\"America/New_York\" or \"UTC\"");
  }
  return OkStatus();
}

bool KnownTimeZone(std::string_view zone) { return UtcOffset(zone, 0).has_value(); }

bool TimeWindowContains(const TimeWindow& window, UnixMicros now) {
  const std::optional<UnixMicros> offset = UtcOffset(window.timezone, now);
  if (!offset.has_value()) return false;
  now += *offset;  // the zone's wall clock, as if it were UTC
  // Floor division, so instants before 1970 land in the right hour and day.
  int64_t hours = now / kMicrosPerHour;
  if (now % kMicrosPerHour < 0) --hours;
  int64_t days = hours / kHoursPerDay;
  if (hours % kHoursPerDay < 0) --days;
  const int hour = static_cast<int>(hours - days * kHoursPerDay);
  const int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  if ((window.days & (1u << weekday)) == 0) return false;
  if (window.start_hour < window.end_hour) {
    return hour >= window.start_hour && hour < window.end_hour;
  }
  return hour >= window.start_hour || hour < window.end_hour;  // wraps past midnight
}

std::string JoinIpAllowlist(const std::vector<IpNetwork>& list) {
  std::string out;
  for (const IpNetwork& network : list) {
    if (!out.empty()) out += ' ';
    out += FormatIpNetwork(network);
  }
  return out;
}

StatusOr<std::vector<IpNetwork>> SplitIpAllowlist(std::string_view stored) {
  std::vector<IpNetwork> list;
  while (!stored.empty()) {
    const size_t space = stored.find(' ');
    const std::string_view entry = stored.substr(0, space);
    stored = space == std::string_view::npos ? std::string_view() : stored.substr(space + 1);
    if (entry.empty()) continue;
    auto network = ParseIpNetwork(entry);
    if (!network.has_value()) {
      return Err(DataLossError("store: a policy's ip_allowlist holds an entry that is not a CIDR"));
    }
    list.push_back(*network);
  }
  return list;
}

}  // namespace coffer
