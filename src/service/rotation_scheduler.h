// RotationScheduler: the server's background work on secrets that time drives. Each pass
// rotates the secrets whose schedule is due (or, for a `notify` policy, records
// secret.rotation_due), disables previous versions whose grace is over, and records
// secret.expiring / secret.expired for versions nearing or past expires_at. Every step is one
// store claim (store.h: ScheduleClaim, DisableScheduledVersion, MarkExpiryAnnounced) carrying its
// audit event, so each happens exactly once however many servers share the store and whenever
// they restart. Events carry the system actor (kind "system", id "rotation-scheduler").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "service/rotation_policy.h"
#include "service/service_deps.h"
#include "store/store.h"

namespace coffer {

inline constexpr std::string_view kSchedulerActorKind = "system";
inline constexpr std::string_view kSchedulerActorId = "rotation-scheduler";
// How long before a version's expires_at secret.expiring is recorded, by default
// (`coffer server --expiry-warning`).
inline constexpr std::chrono::seconds kDefaultExpiryWarning{7 * 24 * 3600};

struct RotationSchedulerOptions {
  std::chrono::milliseconds poll_interval{1000};  // between passes
  std::chrono::seconds expiry_warning = kDefaultExpiryWarning;
  size_t batch = 100;  // store rows per step of a pass
};

// What one pass did.
struct SchedulerPass {
  int rotated = 0;
  int notified = 0;
  int disabled = 0;
  int expiring = 0;
  int expired = 0;
  int lost_races = 0;  // claims another server took first
  int failed = 0;      // steps that failed (tried again next pass)
};

class RotationScheduler {
 public:
  // `deps` and `keyring` outlive this object.
  RotationScheduler(const ServiceDeps& deps, const Keyring& keyring,
                    RotationSchedulerOptions options);
  // Stops the background thread, if started.
  ~RotationScheduler();
  RotationScheduler(const RotationScheduler&) = delete;
  RotationScheduler& operator=(const RotationScheduler&) = delete;

  // Does everything due at the Clock's now. A step that fails is counted and left for the next
  // pass; returns an error only when the store cannot even list what is due. Thread-safe
  // (concurrent passes, here or on other servers, share the work without doing a step twice).
  StatusOr<SchedulerPass> RunOnce();

  // Runs a pass every poll_interval (waiting on the MonotonicClock) until destruction;
  // `on_error` (may be empty) hears each failed listing and each pass with failed steps.
  void Start(std::function<void(const Status&)> on_error);

 private:
  // Each returns true when it did its step, false when another server had (or the schedule
  // changed); an error when the step failed.
  StatusOr<bool> Rotate(const SecretSchedule& s, const RotationPolicy& policy, UnixMicros now);
  StatusOr<bool> Notify(const SecretSchedule& s, const RotationPolicy& policy, UnixMicros now);
  StatusOr<bool> DisablePrevious(const SecretSchedule& s, UnixMicros now);
  StatusOr<bool> Announce(const SecretVersion& v, ExpiryEvent event, bool audited);
  AuditEvent SystemEvent(std::string_view action, std::string_view vault_id, std::string_view path,
                         int64_t version, UnixMicros now) const;

  ServiceDeps deps_;
  const Keyring& keyring_;
  const RotationSchedulerOptions options_;

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ COFFER_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace coffer
