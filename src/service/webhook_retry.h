// When a failed webhook delivery is tried again (docs/webhooks.md): after the first attempt
// fails, `first_retry` later (5 s by default, shorter for tests: --webhook-first-retry), then
// 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts spread over 27 h 35 min after the
// first, so a receiver that is down for a day still gets the event. After the eighth attempt
// fails the delivery is marked failed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "common/clock.h"

namespace coffer {

inline constexpr int64_t kWebhookMaxAttempts = 8;

// When to try again after attempt number `attempts_made` (1 = the first) failed at `now`;
// nullopt when that was the last attempt.
std::optional<UnixMicros> NextWebhookAttempt(int64_t attempts_made, UnixMicros now,
                                             std::chrono::milliseconds first_retry);

}  // namespace coffer
