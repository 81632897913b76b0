// RotationPolicy: parsing with a message naming the field at fault, the canonical JSON form, and
// due-time arithmetic (interval steps from the last due time; cron from now).
#include "service/rotation_policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

namespace coffer {
namespace {

// A fixed reference from which a cron expression's shortest gap is measured (2026-01-01 UTC).
constexpr UnixMicros kCronProbeStart = 1'767'225'600'000'000;

Status FieldError(std::string_view field, std::string_view what) {
  return InvalidArgumentError(fmt::format("rotation_policy.{} {}", field, what));
}

std::string HumanSeconds(int64_t s) {
  if (s % 86400 == 0) return fmt::format("{}d", s / 86400);
  if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s % 60 == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}s", s);
}

// A duration given as an integer (seconds) or a string ("30d").
StatusOr<int64_t> DurationField(const boost::json::value& v, std::string_view field) {
  std::optional<int64_t> seconds;
  if (v.is_int64()) {
    seconds = v.as_int64();
  } else if (v.is_uint64()) {
    seconds = std::nullopt;
  } else if (v.is_string()) {
    seconds = ParseDurationSeconds(std::string_view(v.as_string()));
  } else {
    return Err(FieldError(field, "must be a number of seconds or a duration such as \"30d\""));
  }
  if (!seconds.has_value() || *seconds < 0 || *seconds > kMaxRotationInterval.count()) {
    return Err(FieldError(field, fmt::format("must be a duration of at most {} (units s, m, h, "
                                             "d, w; e.g. \"30d\")",
                                             HumanSeconds(kMaxRotationInterval.count()))));
  }
  return *seconds;
}

Status RefuseUnknown(const boost::json::object& o, std::string_view prefix,
                     std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : o) {
    if (std::find(known.begin(), known.end(), std::string_view(key)) == known.end()) {
      const std::string_view name(key);
      return FieldError(fmt::format("{}{}", prefix, name.substr(0, 64)),
                        "is not a field of a rotation policy");
    }
  }
  return OkStatus();
}

StatusOr<std::string_view> StringField(const boost::json::value& v, std::string_view field) {
  if (!v.is_string()) return Err(FieldError(field, "must be a string"));
  return std::string_view(v.as_string());
}

Status ParseGenerate(const boost::json::value& v, RotationPolicy& p) {
  if (!v.is_object()) return FieldError("generate", "must be an object");
  const boost::json::object& g = v.as_object();
  RETURN_IF_ERROR(RefuseUnknown(g, "generate.", {"length", "charset"}));
  if (const auto* length = g.if_contains("length")) {
    if (!length->is_int64() || length->as_int64() < static_cast<int64_t>(kMinGeneratedLength) ||
        length->as_int64() > static_cast<int64_t>(kMaxGeneratedLength)) {
      return FieldError("generate.length", fmt::format("must be an integer between {} and {}",
                                                       kMinGeneratedLength, kMaxGeneratedLength));
    }
    p.length = length->as_int64();
  }
  if (const auto* charset = g.if_contains("charset")) {
    ASSIGN_OR_RETURN(std::string_view name, StringField(*charset, "generate.charset"));
    if (!ParseCharset(name).has_value()) {
      return FieldError("generate.charset", "must be one of: hex, base64, alphanumeric, ascii");
    }
    p.charset = std::string(name);
  }
  return OkStatus();
}

Status ParsePrevious(const boost::json::value& v, RotationPolicy& p) {
  if (!v.is_object()) return FieldError("previous", "must be an object");
  const boost::json::object& o = v.as_object();
  RETURN_IF_ERROR(RefuseUnknown(o, "previous.", {"action", "grace_seconds"}));
  if (const auto* action = o.if_contains("action")) {
    ASSIGN_OR_RETURN(std::string_view name, StringField(*action, "previous.action"));
    if (name == "keep") {
      p.disable_previous = false;
    } else if (name == "disable") {
      p.disable_previous = true;
    } else {
      return FieldError("previous.action", "must be \"keep\" or \"disable\"");
    }
  }
  if (const auto* grace = o.if_contains("grace_seconds")) {
    ASSIGN_OR_RETURN(p.grace_seconds, DurationField(*grace, "previous.grace_seconds"));
    if (!p.disable_previous) {
      return FieldError("previous.grace_seconds", "applies only with \"action\": \"disable\"");
    }
  }
  return OkStatus();
}

Status CheckCron(const RotationPolicy& p, const CronSchedule& cron,
                 std::chrono::seconds min_interval) {
  std::optional<UnixMicros> at = cron.Next(kCronProbeStart);
  if (!at.has_value()) return FieldError("cron", "never fires");
  for (int i = 0; i < 64; ++i) {
    const std::optional<UnixMicros> next = cron.Next(*at);
    if (!next.has_value()) break;
    if (*next - *at < min_interval.count() * kMicrosPerSecond) {
      return FieldError("cron", fmt::format("fires more often than every {} (the server's "
                                            "shortest rotation interval)",
                                            HumanSeconds(min_interval.count())));
    }
    at = next;
  }
  (void)p;
  return OkStatus();
}

}  // namespace

std::optional<int64_t> ParseDurationSeconds(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  int64_t unit = 1;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      unit = 0;
  }
  if (unit != 0) text.remove_suffix(1);
  if (unit == 0) unit = 1;
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n < 0 ||
      n > kMaxRotationInterval.count() / unit) {
    return std::nullopt;
  }
  return n * unit;
}

bool IsNoRotationPolicy(std::string_view json) {
  std::string compact;
  for (char c : json) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') compact.push_back(c);
  }
  return compact.empty() || compact == "{}";
}

StatusOr<RotationPolicy> ParseRotationPolicy(std::string_view json,
                                             std::chrono::seconds min_interval) {
  boost::system::error_code ec;
  const boost::json::value root = boost::json::parse(json, ec);
  if (ec || !root.is_object()) {
    return Err(InvalidArgumentError("rotation_policy must be a JSON object"));
  }
  const boost::json::object& o = root.as_object();
  RETURN_IF_ERROR(RefuseUnknown(
      o, "", {"interval", "interval_days", "cron", "action", "generate", "previous", "stage"}));
  RotationPolicy p;
  const auto* interval = o.if_contains("interval");
  const auto* interval_days = o.if_contains("interval_days");
  const auto* cron = o.if_contains("cron");
  if ((interval != nullptr) + (interval_days != nullptr) + (cron != nullptr) != 1) {
    return Err(FieldError("interval",
                          "or rotation_policy.cron (or interval_days): exactly one "
                          "must be given"));
  }
  if (interval_days != nullptr) {
    // The seeds' clients send {"interval_days": N}.
    if (!interval_days->is_int64() || interval_days->as_int64() < 1 ||
        interval_days->as_int64() > kMaxRotationInterval.count() / 86400) {
      return Err(FieldError("interval_days", "must be a whole number of days, at least 1"));
    }
    p.interval_seconds = interval_days->as_int64() * 86400;
  }
  if (interval != nullptr) {
    ASSIGN_OR_RETURN(const int64_t seconds, DurationField(*interval, "interval"));
    p.interval_seconds = seconds;
  }
  if (p.interval_seconds.has_value() && *p.interval_seconds < min_interval.count()) {
    return Err(FieldError(interval != nullptr ? "interval" : "interval_days",
                          fmt::format("must be at least {} (the server's shortest rotation "
                                      "interval)",
                                      HumanSeconds(min_interval.count()))));
  }
  if (cron != nullptr) {
    ASSIGN_OR_RETURN(std::string_view text, StringField(*cron, "cron"));
    auto parsed = CronSchedule::Parse(text);
    if (!parsed.has_value()) return Err(FieldError("cron", parsed.error().message()));
    RETURN_IF_ERROR(CheckCron(p, *parsed, min_interval));
    p.cron = std::string(text);
  }
  if (const auto* action = o.if_contains("action")) {
    ASSIGN_OR_RETURN(std::string_view name, StringField(*action, "action"));
    if (name == "rotate") {
      p.action = RotationPolicy::Action::kRotate;
    } else if (name == "notify") {
      p.action = RotationPolicy::Action::kNotify;
    } else {
      return Err(FieldError("action", "must be \"rotate\" or \"notify\""));
    }
  }
  if (const auto* generate = o.if_contains("generate")) {
    RETURN_IF_ERROR(ParseGenerate(*generate, p));
  }
  if (const auto* previous = o.if_contains("previous")) {
    RETURN_IF_ERROR(ParsePrevious(*previous, p));
  }
  if (const auto* stage = o.if_contains("stage")) {
    ASSIGN_OR_RETURN(std::string_view name, StringField(*stage, "stage"));
    if (name == "current") {
      p.stage = RotationPolicy::Stage::kCurrent;
    } else if (name == "pending") {
      p.stage = RotationPolicy::Stage::kPending;
    } else {
      return Err(FieldError("stage", "must be \"current\" or \"pending\""));
    }
  }
  if (p.action == RotationPolicy::Action::kNotify &&
      (o.contains("generate") || p.disable_previous || o.contains("stage"))) {
    return Err(FieldError("action",
                          "\"notify\" writes no version: generate, previous and stage "
                          "do not apply"));
  }
  return p;
}

std::string RotationPolicyJson(const RotationPolicy& p) {
  boost::json::object o;
  if (p.interval_seconds.has_value()) o["interval"] = *p.interval_seconds;
  if (p.cron.has_value()) o["cron"] = *p.cron;
  o["action"] = p.action == RotationPolicy::Action::kNotify ? "notify" : "rotate";
  if (p.action == RotationPolicy::Action::kRotate) {
    o["generate"] = boost::json::object{{"length", p.length}, {"charset", p.charset}};
    boost::json::object previous{{"action", p.disable_previous ? "disable" : "keep"}};
    if (p.disable_previous) previous["grace_seconds"] = p.grace_seconds;
    o["previous"] = std::move(previous);
    o["stage"] = p.stage == RotationPolicy::Stage::kPending ? "pending" : "current";
  }
  return boost::json::serialize(o);
}

UnixMicros FirstRotationAt(const RotationPolicy& p, UnixMicros now) {
  if (p.interval_seconds.has_value()) return now + *p.interval_seconds * kMicrosPerSecond;
  auto parsed = CronSchedule::Parse(*p.cron);
  // A stored policy was validated when it was set; one that no longer parses never fires.
  if (!parsed.has_value()) return std::numeric_limits<UnixMicros>::max();
  return parsed->Next(now).value_or(std::numeric_limits<UnixMicros>::max());
}

UnixMicros NextRotationAt(const RotationPolicy& p, UnixMicros due, UnixMicros now) {
  if (p.interval_seconds.has_value()) {
    const int64_t step = std::max<int64_t>(1, *p.interval_seconds) * kMicrosPerSecond;
    if (due > now) return due + step;
    const int64_t missed = (now - due) / step;  // whole intervals since `due`
    return due + (missed + 1) * step;
  }
  return FirstRotationAt(p, std::max(due, now));
}

}  // namespace coffer
