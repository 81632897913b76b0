// Grace windows for rotated API keys (docs/identity-and-access.md): how long a rotation may let
// the old key keep working, how the rotation's audit event records it, and KeyGraceSweeper, which
// audits the end of each window exactly once across the servers sharing a store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "model/identity.h"
#include "store/store.h"

namespace coffer {

// The longest grace window a rotation may give the old key: 7 days.
inline constexpr int64_t kMaxGraceSeconds = 7 * 24 * 3600;
// How often a server looks for grace windows that ended.
inline constexpr std::chrono::milliseconds kKeyGraceSweepInterval{1000};

// OK for 0..kMaxGraceSeconds; else kInvalidArgument naming grace_seconds.
Status ValidateGraceSeconds(int64_t grace_seconds);

// The audit target of a key: "<agents|users>/<principal id>/api-keys/<public id>" (an agent's
// rotation retires all its keys: "agents/<id>/api-keys"), and with a grace, the window:
// "?grace_seconds=N&old_key_until=<RFC 3339>".
std::string KeyAuditPath(PrincipalKind kind, std::string_view principal_id,
                         std::string_view public_id, int64_t grace_seconds, UnixMicros until);

// The audit action for the end of a key's grace window: agent.key_grace_ended or
// user.key_grace_ended.
std::string_view GraceEndedAction(PrincipalKind kind);

// Finds keys whose grace window ended and appends one `*.key_grace_ended` event for each
// (system actor), with the store's EndKeyGrace: exactly once, whichever server gets there first.
class KeyGraceSweeper {
 public:
  // `store`, `clock` and `monotonic` must outlive this object.
  KeyGraceSweeper(Store& store, const Clock& clock, const MonotonicClock& monotonic)
      : store_(store), clock_(clock), monotonic_(monotonic) {}
  ~KeyGraceSweeper();  // stops the background thread, if started
  KeyGraceSweeper(const KeyGraceSweeper&) = delete;
  KeyGraceSweeper& operator=(const KeyGraceSweeper&) = delete;

  // Audits the end of every window that ended by clock.Now() (at most 1000 per call). Returns
  // how many events this call appended; the store's error otherwise. Thread-safe.
  StatusOr<int> SweepOnce();

  // Calls SweepOnce every `interval` on a background thread until destruction; `on_error` (may
  // be empty) hears each failure.
  void Start(std::chrono::milliseconds interval, std::function<void(const Status&)> on_error);

 private:
  Store& store_;
  const Clock& clock_;
  const MonotonicClock& monotonic_;
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ COFFER_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace coffer
