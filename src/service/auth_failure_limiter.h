// AuthFailureLimiter: a budget of failed authentications per client address, kept in this
// process's memory. Each address has a token bucket (`burst` tokens, refilled at `per_minute`);
// a failed authentication spends a token, and an address with no token left is refused before
// its credential is looked at. Those refusals are not audited one by one but counted, and the
// counts are taken for summary events: at most one per address and summary interval. Memory is
// bounded: at most `max_clients` addresses are tracked, the least recently seen forgotten first
// (its count, if any, is kept for the next summary). Time is passed in by the caller (the
// service's clock), never read here. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace coffer {

class AuthFailureLimiter {
 public:
  struct Options {
    int64_t burst = 20;       // failures an address may make at once
    int64_t per_minute = 60;  // and then this many per minute
    size_t max_clients = 10'000;
    UnixMicros summary_interval = 60 * kMicrosPerSecond;
  };

  // Refusals of one address not yet reported.
  struct Summary {
    std::string client;  // the address
    int64_t refused = 0;
    UnixMicros first = 0;  // the first and last refusal counted
    UnixMicros last = 0;
  };

  explicit AuthFailureLimiter(Options options);

  // 0 when `client` may present a credential at `now`. Otherwise how long until it may (> 0,
  // microseconds), and this refusal is counted for the address's next summary.
  UnixMicros Admit(std::string_view client, UnixMicros now);

  // Spends one of `client`'s tokens: its credential was refused. Failures admitted together
  // may overdraw the bucket (down to -burst); the debt delays the next admission.
  void NoteFailure(std::string_view client, UnixMicros now);

  // The counts due for a summary at `now`, taken (reset): each address with refusals not yet
  // reported whose last summary is at least summary_interval old, or that has none yet; every
  // count when `all` (at shutdown). Addresses idle long enough are forgotten here.
  std::vector<Summary> TakeSummaries(UnixMicros now, bool all);

  // How many addresses are tracked now.
  size_t tracked() const;

 private:
  struct Client {
    double tokens = 0;
    UnixMicros refilled_at = 0;   // when `tokens` was last brought up to date
    Summary pending;              // refused == 0: nothing to report
    UnixMicros last_summary = 0;  // 0: none yet
    std::list<std::string>::iterator lru;
  };

  // The entry of `client`, created (with a full bucket) if needed.
  Client& Touch(std::string_view client, UnixMicros now) COFFER_REQUIRES(mu_);
  // Adds the tokens earned since the entry was last brought up to date.
  void Refill(Client& c, UnixMicros now) const COFFER_REQUIRES(mu_);

  const Options options_;
  const double tokens_per_micro_;

  mutable Mutex mu_;
  std::unordered_map<std::string, Client> clients_ COFFER_GUARDED_BY(mu_);
  std::list<std::string> lru_ COFFER_GUARDED_BY(mu_);  // least recent first
  // Counts of forgotten addresses, reported by the next TakeSummaries; at most max_clients, the
  // rest summed into `overflow_` (reported with no address).
  std::vector<Summary> forgotten_ COFFER_GUARDED_BY(mu_);
  Summary overflow_ COFFER_GUARDED_BY(mu_);
};

}  // namespace coffer
