// UsageRecorder: counts plain reads of secret versions and agents' authenticated requests in
// memory and adds them to the store in batches (Store::ApplyUsage), so a read costs no durable
// write of its own. What a crash can lose is the unflushed window (docs/usage.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace coffer {

// How often a server flushes usage by default (`coffer server --usage-flush-interval`).
inline constexpr std::chrono::milliseconds kDefaultUsageFlushInterval{5000};
// Distinct versions and agents held between flushes at most; more are dropped (and counted in
// dropped()) until a flush succeeds, so a store that is down cannot exhaust memory.
inline constexpr size_t kMaxPendingUsage = 100'000;

class UsageRecorder {
 public:
  // `store` and `clock` must outlive this object. `interval`: how often the background thread
  // (Start) flushes.
  UsageRecorder(Store& store, const MonotonicClock& clock, std::chrono::milliseconds interval)
      : store_(store), clock_(clock), interval_(interval) {}
  // Stops the background thread, if started, and flushes what is pending (errors ignored).
  ~UsageRecorder();
  UsageRecorder(const UsageRecorder&) = delete;
  UsageRecorder& operator=(const UsageRecorder&) = delete;

  // One read of version (secret_id, version) handed to principal `reader_id` at `at`. Counts
  // toward access_count only for versions without a read limit (the store decides: those with
  // one are counted exactly by Store::ConsumeSecretAccess); the last read time and reader are
  // kept for every version. No I/O. Thread-safe.
  void RecordRead(std::string_view secret_id, int64_t version, std::string_view reader_id,
                  UnixMicros at);
  // An authenticated request of agent `agent_id` at `at`. No I/O. Thread-safe.
  void RecordAgentUse(std::string_view agent_id, UnixMicros at);

  // Hands everything pending to Store::ApplyUsage in one call. On error what was taken is put
  // back (merged with what arrived meanwhile) for the next flush, and the error returned.
  // Thread-safe; concurrent flushes run one after another.
  Status Flush();

  // Calls Flush every `interval` on a background thread until destruction; `on_error` (may be
  // empty) hears each failed flush.
  void Start(std::function<void(const Status&)> on_error);

  // Entries (versions or agents) dropped because kMaxPendingUsage were pending. Thread-safe.
  uint64_t dropped() const;

 private:
  // Merges `batch` into pending_ (a failed flush's entries, kept for the next one).
  void PutBack(const UsageBatch& batch) COFFER_REQUIRES(mu_);

  Store& store_;
  const MonotonicClock& clock_;
  const std::chrono::milliseconds interval_;

  mutable Mutex mu_;
  // Keyed by secret_id + '#' + version.
  std::unordered_map<std::string, VersionReads> reads_ COFFER_GUARDED_BY(mu_);
  std::unordered_map<std::string, UnixMicros> agents_ COFFER_GUARDED_BY(mu_);
  uint64_t dropped_ COFFER_GUARDED_BY(mu_) = 0;

  Mutex flush_mu_;  // serializes flushes

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ COFFER_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace coffer
