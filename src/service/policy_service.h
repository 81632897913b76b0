// PolicyService: per-vault access policies, managed by the vault's owner or the admin. A change
// is in force for every request that starts after the call returns. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/identity.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

struct CreatePolicyRequest {
  std::string principal_type;  // "agent" | "user"
  std::string principal_id;
  std::string path_pattern;
  std::vector<std::string> permissions;  // "read" "write" "rotate" "delete" "list"
  std::optional<UnixMicros> expires_at;
};

// Permission names of a bit set, in canonical order.
std::vector<std::string_view> PermissionNames(uint8_t bits);

class PolicyService {
 public:
  explicit PolicyService(const ServiceDeps& deps) : deps_(deps) {}

  // kInvalidArgument naming the field at fault (pattern, permission, principal);
  // kPermissionDenied unless owner or admin; kNotFound for a missing vault.
  StatusOr<Policy> Create(const RequestContext& ctx, std::string_view vault_id,
                          CreatePolicyRequest request);
  StatusOr<std::vector<Policy>> List(const RequestContext& ctx, std::string_view vault_id);
  StatusOr<Policy> Get(const RequestContext& ctx, std::string_view vault_id,
                       std::string_view policy_id);
  Status Delete(const RequestContext& ctx, std::string_view vault_id, std::string_view policy_id);

 private:
  StatusOr<Vault> OwnedVault(const RequestContext& ctx, std::string_view vault_id);

  ServiceDeps deps_;
};

}  // namespace coffer
