// Token buckets per client address with least-recently-seen eviction, and refusal counts.
#include "service/auth_failure_limiter.h"

#include <algorithm>
#include <cmath>

namespace coffer {

AuthFailureLimiter::AuthFailureLimiter(Options options)
    : options_(options),
      tokens_per_micro_(static_cast<double>(options.per_minute) / (60.0 * kMicrosPerSecond)) {}

void AuthFailureLimiter::Refill(Client& c, UnixMicros now) const {
  if (now <= c.refilled_at) return;  // a clock stepped back earns nothing
  c.tokens = std::min(static_cast<double>(options_.burst),
                      c.tokens + static_cast<double>(now - c.refilled_at) * tokens_per_micro_);
  c.refilled_at = now;
}

AuthFailureLimiter::Client& AuthFailureLimiter::Touch(std::string_view client, UnixMicros now) {
  auto it = clients_.find(std::string(client));
  if (it != clients_.end()) {
    lru_.splice(lru_.end(), lru_, it->second.lru);
    return it->second;
  }
  if (clients_.size() >= options_.max_clients && !lru_.empty()) {
    auto oldest = clients_.find(lru_.front());
    Summary& pending = oldest->second.pending;
    if (pending.refused > 0) {
      if (forgotten_.size() < options_.max_clients) {
        forgotten_.push_back(std::move(pending));
      } else {
        overflow_.refused += pending.refused;
        overflow_.first = overflow_.first == 0 ? pending.first : overflow_.first;
        overflow_.last = pending.last;
      }
    }
    clients_.erase(oldest);
    lru_.pop_front();
  }
  lru_.emplace_back(client);
  Client fresh;
  fresh.tokens = static_cast<double>(options_.burst);
  fresh.refilled_at = now;
  fresh.lru = std::prev(lru_.end());
  return clients_.emplace(std::string(client), std::move(fresh)).first->second;
}

UnixMicros AuthFailureLimiter::Admit(std::string_view client, UnixMicros now) {
  MutexLock lock(mu_);
  auto it = clients_.find(std::string(client));
  if (it == clients_.end()) return 0;  // never failed (or long forgotten): a full bucket
  Client& c = it->second;
  Refill(c, now);
  if (c.tokens >= 1.0) return 0;
  lru_.splice(lru_.end(), lru_, c.lru);
  if (c.pending.refused == 0) {
    c.pending.client = std::string(client);
    c.pending.first = now;
  }
  ++c.pending.refused;
  c.pending.last = now;
  const double wait = std::ceil((1.0 - c.tokens) / tokens_per_micro_);
  return std::max<UnixMicros>(1, static_cast<UnixMicros>(wait));
}

void AuthFailureLimiter::NoteFailure(std::string_view client, UnixMicros now) {
  MutexLock lock(mu_);
  Client& c = Touch(client, now);
  Refill(c, now);
  // Requests admitted together (one token left, several connections) all spend it: the debt is
  // paid back before the next admission, so concurrency does not raise the rate. Bounded, so a
  // burst of concurrent failures does not lock an address out for long.
  c.tokens = std::max(-static_cast<double>(options_.burst), c.tokens - 1.0);
}

std::vector<AuthFailureLimiter::Summary> AuthFailureLimiter::TakeSummaries(UnixMicros now,
                                                                           bool all) {
  MutexLock lock(mu_);
  std::vector<Summary> due = std::move(forgotten_);
  forgotten_.clear();
  if (overflow_.refused > 0) {
    due.push_back(std::move(overflow_));
    overflow_ = Summary();
  }
  const auto interval_passed = [&](const Client& c) {
    return c.last_summary == 0 || now - c.last_summary >= options_.summary_interval;
  };
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = it->second;
    if (c.pending.refused > 0 && (all || interval_passed(c))) {
      due.push_back(std::move(c.pending));
      c.pending = Summary();
      c.last_summary = now;
    }
    Refill(c, now);
    // Nothing to report, a full bucket, and a summary now allowed again: the same as untracked.
    if (c.pending.refused == 0 && c.tokens >= static_cast<double>(options_.burst) &&
        interval_passed(c)) {
      lru_.erase(c.lru);
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

size_t AuthFailureLimiter::tracked() const {
  MutexLock lock(mu_);
  return clients_.size();
}

}  // namespace coffer
