// Vaults' kept-version limit: validating it and changing it (docs/secret-versions.md).
#include <fmt/format.h>

#include "service/audit_log.h"
#include "service/authorizer.h"
#include "service/vault_service.h"

namespace coffer {

Status ValidateMaxVersions(int64_t max_versions) {
  if (max_versions < 0 || max_versions > kMaxKeptVersionsLimit) {
    return InvalidArgumentError(
        fmt::format("max_versions must be between 0 (no limit) and {}", kMaxKeptVersionsLimit));
  }
  return OkStatus();
}

StatusOr<Vault> VaultService::SetMaxVersions(const RequestContext& ctx, std::string_view vault_id,
                                             int64_t max_versions) {
  return deps_.audit.Audited<Vault>(ctx, "vault.update", [&](AuditEvent& event) -> StatusOr<Vault> {
    AuditLog::SetTarget(event, vault_id, "");
    RETURN_IF_ERROR(ValidateVaultId(vault_id));
    auto vault = deps_.cache.GetVault(vault_id);
    if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
    if (!Authorizer::IsOwner(ctx.principal, *vault)) {
      return Err(PermissionDeniedError("only the vault's owner or the admin may change it"));
    }
    RETURN_IF_ERROR(ValidateMaxVersions(max_versions));
    RETURN_IF_ERROR(NotFoundAs(
        deps_.store.SetVaultMaxVersions(vault->id, max_versions, AuditLog::Success(event)),
        "vault not found"));
    AuditLog::MarkWritten(ctx);
    Vault updated = *vault;
    updated.max_versions = max_versions;
    return updated;
  });
}

}  // namespace coffer
