// PolicyService: per-vault access policies, managed by the vault's owner or the admin; a policy
// naming an agent is created only by the admin or the agent's owner. A change is in force for
// every request that starts after the call returns. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/identity.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

// What a new policy says. Aggregate-initialize it only with designated initializers or field by
// field (PolicyGrant below): fields are added as the policy model grows.
struct CreatePolicyRequest {
  std::string principal_type;  // "agent" | "user"
  std::string principal_id;
  std::string path_pattern;
  std::vector<std::string> permissions;  // "read" "write" "rotate" "delete" "list"
  std::optional<UnixMicros> expires_at;
  std::string effect = "allow";  // "allow" | "deny"
  int64_t priority = 0;          // >= 0
  PolicyConditions conditions;
};

// The common case: an unconditional allow of `permissions` on `pattern`.
inline CreatePolicyRequest PolicyGrant(std::string principal_type, std::string principal_id,
                                       std::string pattern, std::vector<std::string> permissions,
                                       std::optional<UnixMicros> expires_at = std::nullopt) {
  CreatePolicyRequest r;
  r.principal_type = std::move(principal_type);
  r.principal_id = std::move(principal_id);
  r.path_pattern = std::move(pattern);
  r.permissions = std::move(permissions);
  r.expires_at = expires_at;
  return r;
}

// What an update changes: each field present replaces the policy's, each absent one is kept.
struct UpdatePolicyRequest {
  std::optional<std::vector<std::string>> permissions;
  std::optional<std::optional<UnixMicros>> expires_at;  // an inner nullopt: no expiry
  std::optional<std::string> effect;
  std::optional<int64_t> priority;
  std::optional<PolicyConditions> conditions;  // empty conditions: none
};

// The secret paths of a vault that a policy's path pattern matches (the dashboard's preview).
struct PolicyPreview {
  std::vector<std::string> matches;  // ordered by path, at most kMaxPolicyPreview
  bool truncated = false;            // more paths match than are listed
};
inline constexpr size_t kMaxPolicyPreview = 200;

// Permission names of a bit set, in canonical order.
std::vector<std::string_view> PermissionNames(uint8_t bits);

class PolicyService {
 public:
  explicit PolicyService(const ServiceDeps& deps) : deps_(deps) {}

  // kInvalidArgument naming the field at fault (pattern, permission, principal, an unknown
  // user); kPermissionDenied unless the caller owns the vault or is the admin, and, for a policy
  // naming an agent, unless the caller owns the agent or is the admin (a caller who is not the
  // admin gets this too for an agent that does not exist); kNotFound for a missing vault.
  StatusOr<Policy> Create(const RequestContext& ctx, std::string_view vault_id,
                          CreatePolicyRequest request);
  StatusOr<std::vector<Policy>> List(const RequestContext& ctx, std::string_view vault_id);
  StatusOr<Policy> Get(const RequestContext& ctx, std::string_view vault_id,
                       std::string_view policy_id);
  // The policy with `request` applied, in force for every request that starts after this
  // returns, on every server of the store (the change feed). Who may: whoever may create the
  // policy as it stands (its vault's owner or the admin, and for an agent's policy the agent's
  // owner or the admin). kInvalidArgument naming the field at fault; kPermissionDenied;
  // kNotFound for a missing vault or policy.
  StatusOr<Policy> Update(const RequestContext& ctx, std::string_view vault_id,
                          std::string_view policy_id, UpdatePolicyRequest request);
  Status Delete(const RequestContext& ctx, std::string_view vault_id, std::string_view policy_id);
  // The vault's secret paths that `pattern` matches, with the matcher the policies use
  // (policy_preview.cc). Who may: whoever may create a policy in the vault (its owner, the
  // admin). kInvalidArgument naming the pattern when it is not a valid glob; kNotFound for a
  // missing vault; kPermissionDenied.
  StatusOr<PolicyPreview> Preview(const RequestContext& ctx, std::string_view vault_id,
                                  std::string_view pattern);

 private:
  StatusOr<Vault> OwnedVault(const RequestContext& ctx, std::string_view vault_id);
  // OK when the caller may name this principal in a policy (see Create).
  Status MayGrant(const RequestContext& ctx, PrincipalKind kind, std::string_view principal_id);
  // OK when the fields every policy must satisfy hold (priority, conditions); kInvalidArgument
  // naming the field otherwise.
  Status ValidateTerms(const Policy& policy) const;
  // OK unless `expires_at` is set and not in the future (kInvalidArgument).
  Status ValidateExpiry(std::optional<UnixMicros> expires_at) const;

  ServiceDeps deps_;
};

}  // namespace coffer
