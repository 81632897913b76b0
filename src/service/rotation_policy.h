// RotationPolicy: the schema of a secret's `rotation_policy` (docs/rotation.md), parsed and
// validated from its JSON text, written back in one canonical form, and the time it is next due.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "crypto/value_generator.h"
#include "service/cron_schedule.h"

namespace coffer {

// The shortest interval a policy may ask for unless the server is told otherwise
// (`coffer server --rotation-min-interval`).
inline constexpr std::chrono::seconds kDefaultMinRotationInterval{60};
// The longest interval, and the longest grace before a previous version is disabled.
inline constexpr std::chrono::seconds kMaxRotationInterval{10LL * 366 * 24 * 3600};

struct RotationPolicy {
  enum class Action : uint8_t { kRotate, kNotify };
  enum class Stage : uint8_t { kCurrent, kPending };

  // Exactly one of the two.
  std::optional<int64_t> interval_seconds;
  std::optional<std::string> cron;  // as given (validated)
  Action action = Action::kRotate;
  int64_t length = 32;            // of a generated value
  std::string charset = "hex";    // of a generated value
  bool disable_previous = false;  // "previous": {"action": "disable"}
  int64_t grace_seconds = 0;      // before the previous version is disabled
  Stage stage = Stage::kCurrent;
};

// Parses a rotation_policy object. kInvalidArgument whose message names the field at fault
// ("rotation_policy.interval must be at least 60s"): unknown fields, both or neither of
// interval/cron, an interval under `min_interval` or over kMaxRotationInterval, a cron
// expression that does not parse or fires more often than `min_interval`, length/charset out
// of what secret-rotate takes, an unknown action/stage, a grace out of 0..kMaxRotationInterval.
// An empty text or "{}" is not a policy: callers treat it as "no schedule" before calling.
StatusOr<RotationPolicy> ParseRotationPolicy(std::string_view json,
                                             std::chrono::seconds min_interval);

// The policy as a JSON object with every field spelled out (interval in seconds).
std::string RotationPolicyJson(const RotationPolicy& policy);

// Whether `json` holds no policy: empty, or an empty object (whitespace aside).
bool IsNoRotationPolicy(std::string_view json);

// When a policy set (or a value written) at `now` is first due.
UnixMicros FirstRotationAt(const RotationPolicy& policy, UnixMicros now);

// The due time after `due` (the one being handled) that is later than `now`: a due time missed
// while no server ran is caught up once, not once per missed interval.
UnixMicros NextRotationAt(const RotationPolicy& policy, UnixMicros due, UnixMicros now);

// A duration: a whole number of seconds, or digits with a unit s, m, h, d or w ("30d"). nullopt
// when malformed or over ten years.
std::optional<int64_t> ParseDurationSeconds(std::string_view text);

}  // namespace coffer
