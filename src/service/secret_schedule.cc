// SecretService's rotation schedules: setting and removing a secret's schedule (the
// secret-schedule routes), the schedule a write's rotation_policy (re)starts, and the next due
// time shown with a secret's metadata. The scheduler that acts on them is rotation_scheduler.h.
#include <fmt/format.h>

#include <optional>
#include <string_view>

#include "service/rotation_policy.h"
#include "service/secret_service.h"

namespace coffer {

StatusOr<std::optional<RotationPolicy>> SecretService::WrittenPolicy(
    std::string_view policy_json) const {
  if (IsNoRotationPolicy(policy_json)) {
    return std::optional<RotationPolicy>();
  }
  ASSIGN_OR_RETURN(RotationPolicy policy,
                   ParseRotationPolicy(policy_json, hooks_.min_rotation_interval));
  return std::optional<RotationPolicy>(std::move(policy));
}

Status SecretService::NoteSchedule(SecretVersion& version,
                                   const std::optional<RotationPolicy>& policy) {
  if (policy.has_value()) {
    ASSIGN_OR_RETURN(
        SecretSchedule schedule,
        store_.SetSecretSchedule(version.vault_id, version.path, RotationPolicyJson(*policy),
                                 FirstRotationAt(*policy, clock_.Now()), nullptr));
    version.next_rotation_at = schedule.next_rotation_at;
    return OkStatus();
  }
  ASSIGN_OR_RETURN(std::optional<SecretSchedule> schedule,
                   store_.GetSecretSchedule(version.vault_id, version.path));
  if (schedule.has_value()) {
    version.next_rotation_at = schedule->next_rotation_at;
  }
  return OkStatus();
}

StatusOr<SecretSchedule> SecretService::Schedule(const RequestContext& ctx,
                                                 std::string_view vault_id, std::string_view path,
                                                 std::string_view policy_json) {
  return deps_.audit.Audited<SecretSchedule>(
      ctx, "secret.schedule", [&](AuditEvent& event) -> StatusOr<SecretSchedule> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault,
                         Authorize(ctx, vault_id, path, Permission::kRotate, Permission::kWrite));
        if (policy_json.size() > kMaxMetadataBytes) {
          return Err(InvalidArgumentError(
              fmt::format("rotation_policy is larger than {} bytes", kMaxMetadataBytes)));
        }
        ASSIGN_OR_RETURN(const std::optional<RotationPolicy> policy, WrittenPolicy(policy_json));
        if (!policy.has_value()) {
          return Err(InvalidArgumentError(
              "rotation_policy.interval or rotation_policy.cron: exactly one must be given (to "
              "stop rotating, DELETE the schedule)"));
        }
        auto schedule = store_.SetSecretSchedule(vault.id, path, RotationPolicyJson(*policy),
                                                 FirstRotationAt(*policy, clock_.Now()),
                                                 AuditLog::Success(event));
        if (!schedule.has_value()) return Err(NotFoundAs(schedule.error(), "secret not found"));
        AuditLog::MarkWritten(ctx);
        return schedule;
      });
}

Status SecretService::Unschedule(const RequestContext& ctx, std::string_view vault_id,
                                 std::string_view path) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "secret.unschedule", [&](AuditEvent& event) -> StatusOr<bool> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault,
                         Authorize(ctx, vault_id, path, Permission::kRotate, Permission::kWrite));
        RETURN_IF_ERROR(
            NotFoundAs(store_.DeleteSecretSchedule(vault.id, path, AuditLog::Success(event)),
                       "secret not found"));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

}  // namespace coffer
