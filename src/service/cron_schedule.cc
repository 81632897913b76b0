// CronSchedule: parsing of the five fields and the search for the next matching minute, day by
// day (a day that cannot match is skipped whole), in UTC.
#include "service/cron_schedule.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <chrono>
#include <optional>
#include <span>
#include <vector>

namespace coffer {
namespace {

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  std::span<const std::string_view> names;  // names[i] is min + i
};

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

StatusOr<int> Value(const FieldSpec& f, std::string_view text) {
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (text.size() == 3 && std::tolower(text[0]) == f.names[i][0] &&
        std::tolower(text[1]) == f.names[i][1] && std::tolower(text[2]) == f.names[i][2]) {
      return f.min + static_cast<int>(i);
    }
  }
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Err(InvalidArgumentError(
        fmt::format("{} field: '{}' is not a number", f.name, text.substr(0, 16))));
  }
  // Day-of-week 7 is Sunday, as in cron.
  const int max = f.name == "day-of-week" ? 7 : f.max;
  if (v < f.min || v > max) {
    return Err(
        InvalidArgumentError(fmt::format("{} field: {} is out of {}-{}", f.name, v, f.min, max)));
  }
  return v;
}

// Sets the bits of one field; returns whether it was restricted (anything but `*`).
StatusOr<bool> ParseField(const FieldSpec& f, std::string_view text, std::bitset<64>& bits) {
  bool restricted = false;
  for (std::string_view item : Split(text, ',')) {
    int step = 1;
    std::string_view range = item;
    const size_t slash = item.find('/');
    if (slash != std::string_view::npos) {
      range = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || ec != std::errc() || ptr != step_text.data() + step_text.size() ||
          step < 1 || step > f.max) {
        return Err(
            InvalidArgumentError(fmt::format("{} field: a step must be 1-{}", f.name, f.max)));
      }
    }
    int lo = f.min;
    int hi = f.max;
    if (range == "*") {
      restricted = restricted || step != 1;
    } else {
      restricted = true;
      const size_t dash = range.find('-');
      ASSIGN_OR_RETURN(lo, Value(f, range.substr(0, dash)));
      hi = lo;
      if (dash != std::string_view::npos) {
        ASSIGN_OR_RETURN(hi, Value(f, range.substr(dash + 1)));
      } else if (slash != std::string_view::npos) {
        hi = f.max;  // "5/15" means 5-max/15, as in cron
      }
      if (lo > hi) {
        return Err(InvalidArgumentError(
            fmt::format("{} field: the range {}-{} runs backwards", f.name, lo, hi)));
      }
    }
    for (int v = lo; v <= hi; v += step) {
      bits.set(static_cast<size_t>(v));
    }
  }
  return restricted;
}

}  // namespace

StatusOr<CronSchedule> CronSchedule::Parse(std::string_view expression) {
  std::vector<std::string_view> fields;
  for (std::string_view part : Split(expression, ' ')) {
    if (!part.empty()) fields.push_back(part);
  }
  if (fields.size() != 5) {
    return Err(
        InvalidArgumentError("needs 5 fields: minute hour day-of-month month day-of-week (UTC)"));
  }
  CronSchedule c;
  ASSIGN_OR_RETURN(const bool minutes, ParseField({"minute", 0, 59, {}}, fields[0], c.minutes_));
  ASSIGN_OR_RETURN(const bool hours, ParseField({"hour", 0, 23, {}}, fields[1], c.hours_));
  ASSIGN_OR_RETURN(c.days_restricted_, ParseField({"day-of-month", 1, 31, {}}, fields[2], c.days_));
  ASSIGN_OR_RETURN(const bool months,
                   ParseField({"month", 1, 12, kMonthNames}, fields[3], c.months_));
  ASSIGN_OR_RETURN(c.weekdays_restricted_,
                   ParseField({"day-of-week", 0, 6, kDayNames}, fields[4], c.weekdays_));
  (void)minutes;
  (void)hours;
  (void)months;
  if (c.weekdays_.test(7)) {
    c.weekdays_.reset(7);
    c.weekdays_.set(0);
  }
  return c;
}

std::optional<UnixMicros> CronSchedule::Next(UnixMicros after) const {
  using std::chrono::days;
  using std::chrono::minutes;
  using Micros = std::chrono::microseconds;
  const std::chrono::sys_time<Micros> t{Micros(after)};
  // The first whole minute strictly after `after`.
  const auto start = std::chrono::floor<minutes>(t) + minutes(1);
  auto day = std::chrono::floor<days>(start);
  for (int i = 0; i < 5 * 366 + 2; ++i, day += days(1)) {
    const std::chrono::year_month_day ymd{day};
    const unsigned month = static_cast<unsigned>(ymd.month());
    if (!months_.test(month)) continue;
    const bool dom = days_.test(static_cast<unsigned>(ymd.day()));
    const bool dow = weekdays_.test(std::chrono::weekday{day}.c_encoding());
    bool day_matches = false;
    if (days_restricted_ && weekdays_restricted_) {
      day_matches = dom || dow;
    } else {
      day_matches = dom && dow;
    }
    if (!day_matches) continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_.test(static_cast<size_t>(h))) continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_.test(static_cast<size_t>(m))) continue;
        const auto candidate = day + std::chrono::hours(h) + minutes(m);
        if (candidate >= start) {
          return std::chrono::duration_cast<Micros>(candidate.time_since_epoch()).count();
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace coffer
