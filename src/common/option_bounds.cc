// The table of numeric option bounds and the checks every source of a value goes through.
#include "common/option_bounds.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace coffer {
namespace {

// Wide enough for every sane deployment, narrow enough that no product with them overflows
// (a TTL in microseconds, a timeout in a chrono duration, a thread count in an int).
constexpr IntegerBound kIntegerBounds[] = {
    {"io_threads", 0, 256, "threads"},  // 0: one per core
    {"worker_threads", 1, 1024, "threads"},
    {"max_body_bytes", 1024, 64 << 20, "bytes"},
    {"read_timeout_ms", 100, 3'600'000, "ms"},
    {"idle_timeout_ms", 100, 3'600'000, "ms"},
    {"first_request_timeout_ms", 100, 3'600'000, "ms"},
    {"max_connections_per_address", 0, 1'000'000, ""},  // 0: no limit
    {"max_connections", 0, 10'000'000, ""},             // 0: the open-file limit less a reserve
    {"token_ttl_seconds", 60, 86'400, "seconds"},
    {"ui_session_ttl_seconds", 60, 7 * 86'400, "seconds"},
    {"auth_failure_burst", 1, 1'000'000, ""},
    {"auth_failures_per_minute", 1, 1'000'000, ""},
    {"rotation_min_interval_seconds", 1, 86'400, "seconds"},
    {"expiry_warning_seconds", 0, 31'622'400, "seconds"},  // 366 days
    {"scheduler_interval_ms", 100, 3'600'000, "ms"},
    {"usage_flush_interval_ms", 10, 3'600'000, "ms"},
    {"batch_size", 1, 10'000, ""},  // coffer keys reencrypt
    {"webhook_first_retry_ms", 100, 3'600'000, "ms"},
    {"gateway_agent_rpm", 1, 1'000'000, ""},
    {"gateway_agent_daily_budget", 1, 1'000'000'000, ""},
};

// What was given, bounded and with control characters masked, for the message.
std::string Shown(std::string_view text) {
  std::string out(text.substr(0, 40));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  if (text.size() > 40) out += "...";
  return out;
}

// "must be between MIN and MAX UNIT (got TEXT)": CLI11 puts the flag in front of a validator's
// message; the other callers put the option's name there.
std::string OutOfBounds(const IntegerBound& bound, std::string_view got) {
  return fmt::format("must be between {} and {}{}{} (got {})", bound.min, bound.max,
                     bound.unit.empty() ? "" : " ", bound.unit, Shown(got));
}

}  // namespace

std::span<const IntegerBound> IntegerBounds() { return kIntegerBounds; }

const IntegerBound& IntegerBoundOf(std::string_view key) {
  for (const IntegerBound& b : kIntegerBounds) {
    if (b.key == key) return b;
  }
  std::abort();  // a key missing from the table is a programming error
}

std::string FlagOf(std::string_view key) {
  std::string flag = "--";
  for (char c : key) flag += c == '_' ? '-' : c;
  return flag;
}

Status CheckInteger(const IntegerBound& bound, int64_t value, std::string_view name) {
  if (value >= bound.min && value <= bound.max) return OkStatus();
  return InvalidArgumentError(fmt::format("{} {}", name.empty() ? FlagOf(bound.key) : name,
                                          OutOfBounds(bound, std::to_string(value))));
}

StatusOr<int64_t> ParseInteger(const IntegerBound& bound, std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return Err(InvalidArgumentError(fmt::format("must be an integer between {} and {} (got {})",
                                                bound.min, bound.max, Shown(text))));
  }
  if (ec == std::errc::result_out_of_range || value < bound.min || value > bound.max) {
    return Err(InvalidArgumentError(OutOfBounds(bound, text)));
  }
  return value;
}

StatusOr<double> ParseSeconds(const SecondsBound& bound, std::string_view text) {
  // strtod, not from_chars: it needs a NUL-terminated copy, and accepts what users type ("1e3",
  // "0.5", "+2"), and "nan"/"inf", which the range check then refuses.
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const double value = copy.empty() ? std::nan("") : std::strtod(copy.c_str(), &end);
  const bool parsed = !copy.empty() && end == copy.c_str() + copy.size() && errno == 0;
  if (!parsed || !std::isfinite(value) || value < bound.min || value > bound.max) {
    return Err(
        InvalidArgumentError(fmt::format("must be a number of seconds between {} and {} (got {})",
                                         bound.min, bound.max, Shown(text))));
  }
  return value;
}

CLI::Validator IntegerOption(std::string_view key) {
  const IntegerBound& bound = IntegerBoundOf(key);
  return CLI::Validator(
      [&bound](std::string& input) -> std::string {
        auto parsed = ParseInteger(bound, input);
        return parsed.has_value() ? std::string() : parsed.error().message();
      },
      fmt::format("{}..{}", bound.min, bound.max));
}

CLI::Validator SecondsOption(const SecondsBound& bound) {
  return CLI::Validator(
      [bound](std::string& input) -> std::string {
        auto parsed = ParseSeconds(bound, input);
        return parsed.has_value() ? std::string() : parsed.error().message();
      },
      fmt::format("{}..{} s", bound.min, bound.max));
}

StatusOr<std::string> NormalizeLogLevel(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  for (std::string_view level : kLogLevels) {
    if (lower == level) return lower;
  }
  return Err(InvalidArgumentError(
      fmt::format("must be one of {} (got {})", fmt::join(kLogLevels, ", "), Shown(text))));
}

CLI::Validator LogLevelOption() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        auto level = NormalizeLogLevel(input);
        if (!level.has_value()) return level.error().message();
        input = *level;  // a transform: the option receives the lower-case name
        return std::string();
      },
      fmt::format("{}", fmt::join(kLogLevels, "|")));
}

}  // namespace coffer
