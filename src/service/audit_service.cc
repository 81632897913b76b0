// Audit trail access rules.
#include "service/audit_service.h"

#include <fmt/format.h>

#include "service/vault_service.h"

namespace coffer {

StatusOr<std::vector<AuditEvent>> AuditService::List(const RequestContext& ctx, AuditQuery query) {
  return deps_.audit.Audited<std::vector<
      AuditEvent>>(ctx, "audit.read", [&](AuditEvent& event) -> StatusOr<std::vector<AuditEvent>> {
    AuditLog::SetTarget(event, query.vault_id, "");
    if (query.limit < 1 || query.limit > kMaxAuditPage) {
      return Err(
          InvalidArgumentError(fmt::format("limit must be between 1 and {}", kMaxAuditPage)));
    }
    if (!query.vault_id.empty()) RETURN_IF_ERROR(ValidateVaultId(query.vault_id));
    if (!ctx.principal.is_admin) {
      if (query.vault_id.empty()) {
        return Err(PermissionDeniedError(
            "only the admin reads the whole audit trail; give the vault_id of a vault you own"));
      }
      auto vault = deps_.cache.GetVault(query.vault_id);
      if (!vault.has_value() || !Authorizer::IsOwner(ctx.principal, *vault)) {
        return Err(PermissionDeniedError("only the vault's owner reads its audit trail"));
      }
    }
    return deps_.audit.List(query);
  });
}

StatusOr<AuditVerification> AuditService::Verify(const RequestContext& ctx) {
  return deps_.audit.Audited<AuditVerification>(
      ctx, "audit.verify", [&](AuditEvent&) -> StatusOr<AuditVerification> {
        if (!ctx.principal.is_admin) {
          return Err(PermissionDeniedError("only the admin verifies the audit trail"));
        }
        return deps_.audit.Verify();
      });
}

}  // namespace coffer
