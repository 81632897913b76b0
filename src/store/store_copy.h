// Copying one store into another (coffer migrate: an embedded SQLite deployment onto
// PostgreSQL, or back), through the Store interface only, so any pair of backends works.
// Everything moves as it is: ids, times, counters, disabled versions, wrapped keys, credential
// HMACs and ciphertexts (still bound to their vault, secret and version ids, so the same root
// key decrypts them), and the audit chain, whose seqs and hashes must come out identical.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "common/sha256.h"
#include "common/status.h"
#include "store/store.h"

namespace coffer {

// How many records of each kind a store holds (or a copy moved).
struct StoreCounts {
  int64_t keys = 0;
  int64_t users = 0;
  int64_t credentials = 0;
  int64_t agents = 0;
  int64_t vaults = 0;
  int64_t policies = 0;
  int64_t secrets = 0;
  int64_t versions = 0;
  int64_t schedules = 0;  // rotation schedules (policy and next due time)
  int64_t webhooks = 0;   // webhook endpoints (their deliveries are not copied)
  int64_t bindings = 0;   // gateway bindings (not their executions or use counters)

  bool operator==(const StoreCounts&) const = default;
};

// What CopyStore moved.
struct StoreCopyReport : StoreCounts {
  int64_t audit_events = 0;
  Sha256Digest audit_head{};  // hash of the last event (zeros when there is none)
};

// Copies every record of `from` into `to`, then reads `to` back and checks it against `from`:
// the same counts, byte-identical ciphertexts, and an audit chain that recomputes and ends in
// the same hash. `progress` (may be null) is told what is being copied. Rate-limit hits are not
// copied (they expire within their window). Rotation schedules are copied with their policy and
// next due time (a previous version still waiting to be disabled is not). Webhook endpoints are
// copied with their sealed signing secret as it is, after the audit chain, so they start from
// its head: their deliveries (the log and anything not yet sent) are not copied. Gateway
// bindings are copied; the record of calls made through them (executions) and the gateway's
// use counters (which expire with their windows) are not.
// kFailedPrecondition when `to` is not empty; kDataLoss when the check finds a difference; any
// error of either store otherwise. REQUIRES: nothing writes to `from` meanwhile (stop its servers).
StatusOr<StoreCopyReport> CopyStore(Store& from, Store& to,
                                    const std::function<void(std::string_view)>& progress);

}  // namespace coffer
