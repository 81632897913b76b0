// The bounds of every numeric command-line option, in one table: a value from a flag, a COFFER_*
// variable or a TOML key goes through the same check, and a refusal names the bound
// ("--token-ttl-seconds must be between 60 and 86400 seconds (got 10000000000000)"). Also the
// log levels, accepted in any case. docs/operations.md lists the table.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

// An integer option: its TOML key (the flag is the key with '-' for '_'), inclusive bounds and
// unit ("seconds", "ms", "bytes", or "" for a count).
struct IntegerBound {
  std::string_view key;
  int64_t min;
  int64_t max;
  std::string_view unit;
};

// A fractional option of the client commands, in seconds; NaN and infinities are refused.
struct SecondsBound {
  std::string_view flag;  // "--interval"
  double min;
  double max;
};

// Every row; `coffer server`'s options, then the offline commands'.
std::span<const IntegerBound> IntegerBounds();

// The row of `key`. REQUIRES: `key` is in the table (a programming error otherwise).
const IntegerBound& IntegerBoundOf(std::string_view key);

// "--token-ttl-seconds" for "token_ttl_seconds".
std::string FlagOf(std::string_view key);

// OK when `value` is within `bound`; kInvalidArgument "NAME must be between MIN and MAX UNIT
// (got VALUE)" otherwise, NAME being the flag unless given (a TOML key).
Status CheckInteger(const IntegerBound& bound, int64_t value, std::string_view name = {});

// The parsers behind the validators below. Their refusals are kInvalidArgument with a message
// that leaves the subject to the caller ("must be between MIN and MAX UNIT (got TEXT)"), as
// CLI11 puts the flag in front of it.
// `text` as an integer within `bound`: decimal digits only; a number beyond int64 is out of range.
StatusOr<int64_t> ParseInteger(const IntegerBound& bound, std::string_view text);
// `text` as a finite number of seconds within `bound` (nan, inf, negative, words refused).
StatusOr<double> ParseSeconds(const SecondsBound& bound, std::string_view text);
// `text` lower-cased when it names a log level in any case; "must be one of …" otherwise.
StatusOr<std::string> NormalizeLogLevel(std::string_view text);

// CLI11 validators running ParseInteger / ParseSeconds on a flag's text (and its COFFER_*
// variable's, which CLI11 validates alike).
CLI::Validator IntegerOption(std::string_view key);
CLI::Validator SecondsOption(const SecondsBound& bound);

// The bounds of the client commands' durations.
inline constexpr SecondsBound kClientTimeout{"--timeout", 0.1, 3600};
inline constexpr SecondsBound kRunInterval{"--interval", 0.05, 86400};
inline constexpr SecondsBound kRunGrace{"--grace", 0, 3600};

// The log levels, lowest first.
inline constexpr std::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
// A CLI11 validator that lower-cases a level or refuses it with that list.
CLI::Validator LogLevelOption();

}  // namespace coffer
