// RotationScheduler: one pass lists what is due and takes each step through a store claim; a
// claim lost to another server (kAborted) is counted, not an error.
#include "service/rotation_scheduler.h"

#include <fmt/format.h>

#include <utility>

#include "crypto/aead.h"
#include "crypto/value_generator.h"

namespace coffer {

RotationScheduler::RotationScheduler(const ServiceDeps& deps, const Keyring& keyring,
                                     RotationSchedulerOptions options)
    : deps_(deps), keyring_(keyring), options_(std::move(options)) {}

RotationScheduler::~RotationScheduler() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

AuditEvent RotationScheduler::SystemEvent(std::string_view action, std::string_view vault_id,
                                          std::string_view path, int64_t version,
                                          UnixMicros now) const {
  AuditEvent e;
  e.at = now;
  e.actor_kind = std::string(kSchedulerActorKind);
  e.actor_id = std::string(kSchedulerActorId);
  e.action = std::string(action);
  e.vault_id = std::string(vault_id);
  e.path = std::string(path);
  e.version = version;
  e.outcome = "success";
  e.status = "OK";
  return e;
}

namespace {

// A lost claim is a step another server did.
StatusOr<bool> Claimed(const Status& s) {
  if (s.ok()) return true;
  if (s.code() == StatusCode::kAborted) return false;
  return Err(s);
}

}  // namespace

StatusOr<bool> RotationScheduler::Rotate(const SecretSchedule& s, const RotationPolicy& policy,
                                         UnixMicros now) {
  auto previous = deps_.store.GetSecretVersionById(s.secret_id, VersionSelector::LatestAny());
  if (!previous.has_value()) {
    return previous.error().code() == StatusCode::kNotFound ? StatusOr<bool>(false)
                                                            : Err(previous.error());
  }
  const std::optional<Charset> charset = ParseCharset(policy.charset);
  if (!charset.has_value()) return Err(InternalError("a stored policy names no known charset"));
  ASSIGN_OR_RETURN(SecretBuffer value,
                   GenerateValue(*charset, static_cast<size_t>(policy.length), keyring_.random()));
  NewSecretVersion version;
  version.vault_id = s.vault_id;
  version.path = s.path;
  version.type = previous->type;
  version.metadata_json = previous->metadata_json;
  version.rotation_policy_json = previous->rotation_policy_json;
  version.max_access_count = previous->max_access_count;  // with a fresh count, as secret-rotate
  version.created_at = now;
  version.created_by = std::string(kSchedulerActorId);
  ScheduleClaim claim{s.secret_id, s.next_rotation_at,
                      NextRotationAt(policy, s.next_rotation_at, now), std::nullopt};
  if (policy.disable_previous) {
    claim.disable_previous_at = now + policy.grace_seconds * kMicrosPerSecond;
  }
  version.schedule_claim = std::move(claim);
  auto seal = [&](const SecretVersion& header) -> StatusOr<std::vector<uint8_t>> {
    const std::vector<uint8_t> aad = SecretAad(header.vault_id, header.secret_id, header.version);
    return keyring_.Encrypt(value.span(), aad);
  };
  AuditEvent event = SystemEvent("secret.rotate", s.vault_id, s.path, 0, now);
  // "stage": "pending" writes the version to the `pending` alias, to be promoted by a person.
  version.stage_pending = policy.stage == RotationPolicy::Stage::kPending;
  StatusOr<SecretVersion> written = deps_.store.PutSecretVersion(version, seal, &event);
  return Claimed(written.has_value() ? OkStatus() : written.error());
}

StatusOr<bool> RotationScheduler::Notify(const SecretSchedule& s, const RotationPolicy& policy,
                                         UnixMicros now) {
  int64_t current = 0;
  auto latest = deps_.store.GetSecretVersionById(s.secret_id, VersionSelector::LatestEnabled());
  if (latest.has_value()) current = latest->version;
  AuditEvent event = SystemEvent("secret.rotation_due", s.vault_id, s.path, current, now);
  const ScheduleClaim claim{s.secret_id, s.next_rotation_at,
                            NextRotationAt(policy, s.next_rotation_at, now), std::nullopt};
  return Claimed(deps_.store.AdvanceSecretSchedule(claim, &event));
}

StatusOr<bool> RotationScheduler::DisablePrevious(const SecretSchedule& s, UnixMicros now) {
  AuditEvent event =
      SystemEvent("secret.disable_version", s.vault_id, s.path, s.disable_version, now);
  return Claimed(deps_.store.DisableScheduledVersion(s.secret_id, s.disable_version, s.disable_at,
                                                     now, &event));
}

StatusOr<bool> RotationScheduler::Announce(const SecretVersion& v, ExpiryEvent event,
                                           bool audited) {
  AuditEvent e = SystemEvent(event == ExpiryEvent::kExpiring ? "secret.expiring" : "secret.expired",
                             v.vault_id, v.path, v.version, deps_.clock.Now());
  const Status s =
      deps_.store.MarkExpiryAnnounced(v.secret_id, v.version, event, audited ? &e : nullptr);
  if (s.code() == StatusCode::kNotFound) return false;  // deleted meanwhile
  return Claimed(s);
}

StatusOr<SchedulerPass> RotationScheduler::RunOnce() {
  SchedulerPass pass;
  auto count = [&](const StatusOr<bool>& step, int& done) {
    if (!step.has_value()) {
      ++pass.failed;
    } else if (*step) {
      ++done;
    } else {
      ++pass.lost_races;
    }
  };
  const UnixMicros now = deps_.clock.Now();
  ASSIGN_OR_RETURN(std::vector<SecretSchedule> due,
                   deps_.store.ListDueSchedules(now, options_.batch));
  for (const SecretSchedule& s : due) {
    if (s.disable_version != 0 && s.disable_at <= now) {
      count(DisablePrevious(s, now), pass.disabled);
    }
    if (s.next_rotation_at > now) continue;
    auto policy = ParseRotationPolicy(s.policy_json, std::chrono::seconds(1));
    if (!policy.has_value()) {
      ++pass.failed;
      continue;
    }
    if (policy->action == RotationPolicy::Action::kNotify) {
      count(Notify(s, *policy, now), pass.notified);
    } else {
      count(Rotate(s, *policy, now), pass.rotated);
    }
  }
  // secret.expiring for versions expiring within the warning (one already past it gets only
  // secret.expired), then secret.expired for those past expires_at.
  const UnixMicros warn_by =
      now + static_cast<int64_t>(options_.expiry_warning.count()) * kMicrosPerSecond;
  ASSIGN_OR_RETURN(
      std::vector<SecretVersion> expiring,
      deps_.store.ListUnannouncedExpiries(ExpiryEvent::kExpiring, warn_by, options_.batch));
  for (const SecretVersion& v : expiring) {
    const bool still_ahead = v.expires_at.has_value() && *v.expires_at > now;
    int ignored = 0;
    count(Announce(v, ExpiryEvent::kExpiring, still_ahead), still_ahead ? pass.expiring : ignored);
  }
  ASSIGN_OR_RETURN(std::vector<SecretVersion> expired,
                   deps_.store.ListUnannouncedExpiries(ExpiryEvent::kExpired, now, options_.batch));
  for (const SecretVersion& v : expired) {
    count(Announce(v, ExpiryEvent::kExpired, true), pass.expired);
  }
  return pass;
}

void RotationScheduler::Start(std::function<void(const Status&)> on_error) {
  thread_ = std::thread([this, on_error = std::move(on_error)] {
    MutexLock lock(stop_mu_);
    while (!deps_.monotonic_clock.WaitFor(stop_mu_, stop_cv_, options_.poll_interval,
                                          [this]()
                                              COFFER_REQUIRES(stop_mu_) { return stopping_; })) {
      lock.Unlock();
      const StatusOr<SchedulerPass> pass = RunOnce();
      if (on_error) {
        if (!pass.has_value()) {
          on_error(pass.error());
        } else if (pass->failed > 0) {
          on_error(UnavailableError(
              fmt::format("{} scheduled step(s) failed; they are tried again", pass->failed)));
        }
      }
      lock.Lock();
    }
  });
}

}  // namespace coffer
