// Policy validation and lifecycle.
#include "service/policy_service.h"

#include <fmt/format.h>

#include "common/ids.h"
#include "model/path_glob.h"
#include "service/vault_service.h"

namespace coffer {
namespace {

constexpr std::pair<uint8_t, std::string_view> kPermissionNames[] = {
    {kPermRead, "read"},     {kPermWrite, "write"}, {kPermRotate, "rotate"},
    {kPermDelete, "delete"}, {kPermList, "list"},   {kPermUse, "use"},
};

StatusOr<uint8_t> ParsePermissions(const std::vector<std::string>& names) {
  if (names.empty()) {
    return Err(InvalidArgumentError("permissions must name at least one permission"));
  }
  uint8_t bits = 0;
  for (const std::string& name : names) {
    bool known = false;
    for (const auto& [bit, n] : kPermissionNames) {
      if (n == name) {
        bits |= bit;
        known = true;
      }
    }
    if (!known) {
      return Err(InvalidArgumentError(
          "permissions may contain only: read, write, rotate, delete, list, use"));
    }
  }
  return bits;
}

StatusOr<PolicyEffect> ParseEffect(std::string_view name) {
  if (name == "allow") return PolicyEffect::kAllow;
  if (name == "deny") return PolicyEffect::kDeny;
  return Err(InvalidArgumentError("effect must be \"allow\" or \"deny\""));
}

}  // namespace

std::vector<std::string_view> PermissionNames(uint8_t bits) {
  std::vector<std::string_view> names;
  for (const auto& [bit, name] : kPermissionNames) {
    if ((bits & bit) != 0) names.push_back(name);
  }
  return names;
}

StatusOr<Vault> PolicyService::OwnedVault(const RequestContext& ctx, std::string_view vault_id) {
  RETURN_IF_ERROR(ValidateVaultId(vault_id));
  auto vault = deps_.cache.GetVault(vault_id);
  if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
  if (!Authorizer::IsOwner(ctx.principal, *vault)) {
    return Err(PermissionDeniedError("only the vault's owner or the admin manages its policies"));
  }
  return vault;
}

Status PolicyService::MayGrant(const RequestContext& ctx, PrincipalKind kind,
                               std::string_view principal_id) {
  if (kind == PrincipalKind::kUser) {
    // The vault's owner shares it with any person of the deployment.
    auto user = deps_.store.GetUser(principal_id);
    if (user.has_value()) return OkStatus();
    if (user.error().code() != StatusCode::kNotFound) return user.error();
    return InvalidArgumentError("principal_id does not name an existing user");
  }
  auto agent = deps_.store.GetAgent(principal_id);
  if (!agent.has_value() && agent.error().code() != StatusCode::kNotFound) return agent.error();
  if (ctx.principal.is_admin) {
    if (!agent.has_value()) {
      return InvalidArgumentError("principal_id does not name an existing agent");
    }
    return OkStatus();
  }
  // An agent acts for its owner: only the owner (or the admin) decides what it may reach. Someone
  // else's agent gets the same answer as one that does not exist, as in AgentService.
  if (!agent.has_value() || ctx.principal.kind != PrincipalKind::kUser ||
      agent->owner_id != ctx.principal.id) {
    return PermissionDeniedError(
        "principal_id must name an agent you own: only an agent's owner or the admin grants it "
        "access");
  }
  return OkStatus();
}

StatusOr<Policy> PolicyService::Create(const RequestContext& ctx, std::string_view vault_id,
                                       CreatePolicyRequest request) {
  return deps_.audit.Audited<Policy>(
      ctx, "policy.create", [&](AuditEvent& event) -> StatusOr<Policy> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, OwnedVault(ctx, vault_id));
        Policy policy;
        if (request.principal_type == "agent") {
          policy.principal_kind = PrincipalKind::kAgent;
        } else if (request.principal_type == "user") {
          policy.principal_kind = PrincipalKind::kUser;
        } else {
          return Err(InvalidArgumentError("principal_type must be \"agent\" or \"user\""));
        }
        if (!IsUuid(request.principal_id)) {
          return Err(InvalidArgumentError("principal_id must be a UUID"));
        }
        RETURN_IF_ERROR(MayGrant(ctx, policy.principal_kind, request.principal_id));
        Status glob = ValidatePathGlob(request.path_pattern);
        if (!glob.ok()) {
          return Err(InvalidArgumentError(fmt::format("secret_path_pattern: {}", glob.message())));
        }
        ASSIGN_OR_RETURN(policy.permissions, ParsePermissions(request.permissions));
        ASSIGN_OR_RETURN(policy.effect, ParseEffect(request.effect));
        policy.id = NewUuid(deps_.random);
        policy.vault_id = vault.id;
        policy.principal_id = std::move(request.principal_id);
        policy.path_glob = std::move(request.path_pattern);
        RETURN_IF_ERROR(ValidateExpiry(request.expires_at));
        policy.expires_at = request.expires_at;
        policy.priority = request.priority;
        policy.conditions = std::move(request.conditions);
        RETURN_IF_ERROR(ValidateTerms(policy));
        policy.created_at = deps_.clock.Now();
        policy.created_by = ctx.principal.id;
        Status s = deps_.store.InsertPolicy(policy, AuditLog::Success(event));
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return policy;
      });
}

StatusOr<std::vector<Policy>> PolicyService::List(const RequestContext& ctx,
                                                  std::string_view vault_id) {
  return deps_.audit.Audited<std::vector<Policy>>(
      ctx, "policy.list", [&](AuditEvent& event) -> StatusOr<std::vector<Policy>> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, OwnedVault(ctx, vault_id));
        return deps_.store.ListPolicies(vault.id);
      });
}

StatusOr<Policy> PolicyService::Get(const RequestContext& ctx, std::string_view vault_id,
                                    std::string_view policy_id) {
  return deps_.audit.Audited<Policy>(
      ctx, "policy.read", [&](AuditEvent& event) -> StatusOr<Policy> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, OwnedVault(ctx, vault_id));
        if (!IsUuid(policy_id)) return Err(InvalidArgumentError("policy_id must be a UUID"));
        auto policy = deps_.store.GetPolicy(vault.id, policy_id);
        if (!policy.has_value()) return Err(NotFoundAs(policy.error(), "policy not found"));
        return policy;
      });
}

Status PolicyService::ValidateExpiry(std::optional<UnixMicros> expires_at) const {
  if (expires_at.has_value() && *expires_at <= deps_.clock.Now()) {
    return InvalidArgumentError("expires_at must be in the future");
  }
  return OkStatus();
}

Status PolicyService::ValidateTerms(const Policy& policy) const {
  if (policy.priority < 0) {
    return InvalidArgumentError("priority must be 0 or more");
  }
  if (policy.conditions.time_window.has_value()) {
    RETURN_IF_ERROR(ValidateTimeWindow(*policy.conditions.time_window));
  }
  return OkStatus();
}

StatusOr<Policy> PolicyService::Update(const RequestContext& ctx, std::string_view vault_id,
                                       std::string_view policy_id, UpdatePolicyRequest request) {
  return deps_.audit.Audited<Policy>(
      ctx, "policy.update", [&](AuditEvent& event) -> StatusOr<Policy> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, OwnedVault(ctx, vault_id));
        if (!IsUuid(policy_id)) return Err(InvalidArgumentError("policy_id must be a UUID"));
        auto found = deps_.store.GetPolicy(vault.id, policy_id);
        if (!found.has_value()) return Err(NotFoundAs(found.error(), "policy not found"));
        Policy policy = std::move(*found);
        RETURN_IF_ERROR(MayGrant(ctx, policy.principal_kind, policy.principal_id));
        if (request.permissions.has_value()) {
          ASSIGN_OR_RETURN(policy.permissions, ParsePermissions(*request.permissions));
        }
        if (request.effect.has_value()) {
          ASSIGN_OR_RETURN(policy.effect, ParseEffect(*request.effect));
        }
        if (request.expires_at.has_value()) {
          RETURN_IF_ERROR(ValidateExpiry(*request.expires_at));
          policy.expires_at = *request.expires_at;
        }
        if (request.priority.has_value()) policy.priority = *request.priority;
        if (request.conditions.has_value()) policy.conditions = std::move(*request.conditions);
        RETURN_IF_ERROR(ValidateTerms(policy));
        policy.updated_at = deps_.clock.Now();
        RETURN_IF_ERROR(deps_.store.UpdatePolicy(policy, AuditLog::Success(event)));
        AuditLog::MarkWritten(ctx);
        return policy;
      });
}

Status PolicyService::Delete(const RequestContext& ctx, std::string_view vault_id,
                             std::string_view policy_id) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "policy.delete", [&](AuditEvent& event) -> StatusOr<bool> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, OwnedVault(ctx, vault_id));
        if (!IsUuid(policy_id)) return Err(InvalidArgumentError("policy_id must be a UUID"));
        Status s = deps_.store.DeletePolicy(vault.id, policy_id, AuditLog::Success(event));
        RETURN_IF_ERROR(NotFoundAs(s, "policy not found"));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

}  // namespace coffer
