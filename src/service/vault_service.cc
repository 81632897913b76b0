// Vault rules: names, visibility, lifecycle.
#include "service/vault_service.h"

#include <fmt/format.h>

#include <set>

#include "common/ids.h"

namespace coffer {
namespace {

constexpr size_t kMaxName = 64;
constexpr size_t kMaxDescription = 1024;

}  // namespace

Status ValidateName(std::string_view name, std::string_view field) {
  if (name.empty()) return InvalidArgumentError(fmt::format("{} must not be empty", field));
  if (name.size() > kMaxName) {
    return InvalidArgumentError(fmt::format("{} is longer than {} characters", field, kMaxName));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return InvalidArgumentError(
          fmt::format("{} may contain only letters, digits, '-', '_' and '.'", field));
    }
  }
  return OkStatus();
}

Status ValidateDescription(std::string_view description) {
  if (description.size() > kMaxDescription) {
    return InvalidArgumentError(
        fmt::format("description is longer than {} characters", kMaxDescription));
  }
  if (description.find('\0') != std::string_view::npos) {
    return InvalidArgumentError("description must not contain a NUL character");
  }
  return OkStatus();
}

Status ValidateVaultId(std::string_view id) {
  if (!IsUuid(id)) return InvalidArgumentError("vault_id must be a UUID");
  return OkStatus();
}

StatusOr<Vault> VaultService::Create(const RequestContext& ctx, CreateVaultRequest request) {
  return deps_.audit.Audited<Vault>(ctx, "vault.create", [&](AuditEvent& event) -> StatusOr<Vault> {
    if (ctx.principal.kind != PrincipalKind::kUser) {
      return Err(PermissionDeniedError("agents cannot create vaults"));
    }
    RETURN_IF_ERROR(ValidateName(request.name, "name"));
    RETURN_IF_ERROR(ValidateDescription(request.description));
    RETURN_IF_ERROR(ValidateMaxVersions(request.max_versions));
    Vault vault;
    vault.id = NewUuid(deps_.random);
    vault.name = std::move(request.name);
    vault.description = std::move(request.description);
    vault.owner_id = ctx.principal.id;
    vault.created_at = deps_.clock.Now();
    vault.max_versions = request.max_versions;
    event.vault_id = vault.id;
    RETURN_IF_ERROR(deps_.store.InsertVault(vault, AuditLog::Success(event)));
    AuditLog::MarkWritten(ctx);
    return vault;
  });
}

StatusOr<std::vector<Vault>> VaultService::List(const RequestContext& ctx) {
  return deps_.audit.Audited<std::vector<Vault>>(
      ctx, "vault.list", [&](AuditEvent&) -> StatusOr<std::vector<Vault>> {
        if (ctx.principal.is_admin) return deps_.store.ListVaults(std::nullopt);
        ASSIGN_OR_RETURN(std::vector<Vault> all, deps_.store.ListVaults(std::nullopt));
        ASSIGN_OR_RETURN(std::vector<Policy> grants, deps_.store.ListPoliciesForPrincipal(
                                                         ctx.principal.kind, ctx.principal.id));
        const UnixMicros now = deps_.clock.Now();
        std::set<std::string, std::less<>> granted;
        for (const Policy& p : grants) {
          if (p.effect == PolicyEffect::kAllow && Authorizer::InForce(p, ctx, now)) {
            granted.insert(p.vault_id);
          }
        }
        std::vector<Vault> visible;
        for (auto& v : all) {
          if (Authorizer::IsOwner(ctx.principal, v) || granted.contains(v.id)) {
            visible.push_back(std::move(v));
          }
        }
        return visible;
      });
}

StatusOr<Vault> VaultService::Get(const RequestContext& ctx, std::string_view vault_id) {
  return deps_.audit.Audited<Vault>(ctx, "vault.read", [&](AuditEvent& event) -> StatusOr<Vault> {
    AuditLog::SetTarget(event, vault_id, "");
    RETURN_IF_ERROR(ValidateVaultId(vault_id));
    auto vault = deps_.cache.GetVault(vault_id);
    if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
    ASSIGN_OR_RETURN(bool visible, deps_.authorizer.CanSeeVault(ctx, *vault));
    if (!visible) return Err(PermissionDeniedError("no permission in this vault"));
    return vault;
  });
}

Status VaultService::Delete(const RequestContext& ctx, std::string_view vault_id) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "vault.delete", [&](AuditEvent& event) -> StatusOr<bool> {
        AuditLog::SetTarget(event, vault_id, "");
        RETURN_IF_ERROR(ValidateVaultId(vault_id));
        auto vault = deps_.cache.GetVault(vault_id);
        if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
        if (!Authorizer::IsOwner(ctx.principal, *vault)) {
          return Err(PermissionDeniedError("only the vault's owner or the admin may delete it"));
        }
        Status s = deps_.store.DeleteVault(vault->id, AuditLog::Success(event));
        RETURN_IF_ERROR(NotFoundAs(s, "vault not found"));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

}  // namespace coffer
