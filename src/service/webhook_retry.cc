// The retry schedule of webhook deliveries, as a table of waits.
#include "service/webhook_retry.h"

namespace coffer {

namespace {

using std::chrono::hours;
using std::chrono::minutes;

// The wait after attempt 2, 3, …, 7 fails (the wait after attempt 1 is first_retry).
constexpr std::chrono::seconds kLaterWaits[] = {minutes(5), minutes(30), hours(2),
                                                hours(5),   hours(10),   hours(10)};

}  // namespace

std::optional<UnixMicros> NextWebhookAttempt(int64_t attempts_made, UnixMicros now,
                                             std::chrono::milliseconds first_retry) {
  if (attempts_made < 1 || attempts_made >= kWebhookMaxAttempts) return std::nullopt;
  if (attempts_made == 1) {
    return now + std::chrono::duration_cast<std::chrono::microseconds>(first_retry).count();
  }
  return now + std::chrono::duration_cast<std::chrono::microseconds>(kLaterWaits[attempts_made - 2])
                   .count();
}

}  // namespace coffer
