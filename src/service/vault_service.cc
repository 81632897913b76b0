// Vault rules: names, visibility, lifecycle.
#include "service/vault_service.h"

#include <fmt/format.h>

#include "common/ids.h"

namespace coffer {
namespace {

constexpr size_t kMaxVaultName = 64;
constexpr size_t kMaxVaultDescription = 1024;

Status ValidateVaultName(std::string_view name) {
  if (name.empty()) return InvalidArgumentError("name must not be empty");
  if (name.size() > kMaxVaultName) {
    return InvalidArgumentError(fmt::format("name is longer than {} characters", kMaxVaultName));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return InvalidArgumentError(
          "name may contain only letters, digits, '-', '_' and '.'");
    }
  }
  return OkStatus();
}

}  // namespace

Status ValidateVaultId(std::string_view id) {
  if (!IsUuid(id)) return InvalidArgumentError("vault_id must be a UUID");
  return OkStatus();
}

StatusOr<Vault> VaultService::Create(const RequestContext& ctx, CreateVaultRequest request) {
  RETURN_IF_ERROR(ValidateVaultName(request.name));
  if (request.description.size() > kMaxVaultDescription) {
    return Err(InvalidArgumentError(
        fmt::format("description is longer than {} characters", kMaxVaultDescription)));
  }
  Vault vault;
  vault.id = NewUuid();
  vault.name = std::move(request.name);
  vault.description = std::move(request.description);
  vault.owner_id = ctx.principal.id;
  vault.created_at = clock_.Now();
  RETURN_IF_ERROR(store_.InsertVault(vault));
  return vault;
}

StatusOr<std::vector<Vault>> VaultService::List(const RequestContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<Vault> all, store_.ListVaults(std::nullopt));
  if (ctx.principal.is_admin) return all;
  std::vector<Vault> visible;
  for (auto& v : all) {
    if (authorizer_.CanSeeVault(ctx.principal, v)) visible.push_back(std::move(v));
  }
  return visible;
}

StatusOr<Vault> VaultService::Get(const RequestContext& ctx, std::string_view vault_id) {
  RETURN_IF_ERROR(ValidateVaultId(vault_id));
  auto vault = store_.GetVault(vault_id);
  if (!vault.has_value()) {
    if (vault.error().code() == StatusCode::kNotFound) {
      return Err(NotFoundError("vault not found"));
    }
    return Err(vault.error());
  }
  if (!authorizer_.CanSeeVault(ctx.principal, *vault)) {
    return Err(NotFoundError("vault not found"));
  }
  return vault;
}

Status VaultService::Delete(const RequestContext& ctx, std::string_view vault_id) {
  ASSIGN_OR_RETURN(Vault vault, Get(ctx, vault_id));
  if (!ctx.principal.is_admin && vault.owner_id != ctx.principal.id) {
    return PermissionDeniedError("only the vault's owner or the admin may delete it");
  }
  Status s = store_.DeleteVault(vault.id);
  if (s.code() == StatusCode::kNotFound) return NotFoundError("vault not found");
  return s;
}

}  // namespace coffer
