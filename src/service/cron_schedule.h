// CronSchedule: a 5-field cron expression (minute hour day-of-month month day-of-week, in UTC)
// and the first time it fires after a given time. Fields take `*`, numbers, ranges `a-b`, steps
// `*/n` and `a-b/n`, lists `a,b`, and the names jan…dec and sun…sat; day-of-week 7 is Sunday.
// As in cron, when both day fields are restricted a day matching either fires.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace coffer {

class CronSchedule {
 public:
  // kInvalidArgument saying which field is at fault ("minute field: 61 is out of 0-59").
  static StatusOr<CronSchedule> Parse(std::string_view expression);

  // The first whole minute strictly after `after` that the expression matches, or nullopt when
  // none comes within five years (e.g. "0 0 30 2 *"). Thread-safe.
  std::optional<UnixMicros> Next(UnixMicros after) const;

 private:
  // Bit v is set when value v matches (days 1..31, months 1..12, weekdays 0..6 with 0 Sunday).
  std::bitset<64> minutes_;
  std::bitset<64> hours_;
  std::bitset<64> days_;
  std::bitset<64> months_;
  std::bitset<64> weekdays_;
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

}  // namespace coffer
