// The version lifecycle of the secrets API: reads through an alias, moving and removing aliases,
// promote and rollback, and destroying a version. Each is one store operation, authorized by
// policy and audited as one event (docs/secret-versions.md).
#include <fmt/format.h>

#include <map>
#include <string>

#include "service/secret_service.h"
#include "service/vault_service.h"

namespace coffer {

namespace {

constexpr size_t kMaxAliasLength = 32;

using AliasMap = std::map<std::string, int64_t>;

}  // namespace

Status ValidateAliasName(std::string_view alias) {
  bool ok = !alias.empty() && alias.size() <= kMaxAliasLength && alias.front() >= 'a' &&
            alias.front() <= 'z';
  for (const char c : alias) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (!ok) {
    return InvalidArgumentError(fmt::format(
        "alias must be 1 to {} of a-z, 0-9, '_' and '-', starting with a letter", kMaxAliasLength));
  }
  return OkStatus();
}

StatusOr<bool> ParseStage(const std::optional<std::string>& stage) {
  if (!stage.has_value() || *stage == kAliasCurrent) {
    return false;
  }
  if (*stage == kAliasPending) {
    return true;
  }
  return Err(InvalidArgumentError("stage must be current or pending"));
}

StatusOr<SecretValue> SecretService::GetAlias(const RequestContext& ctx, std::string_view vault_id,
                                              std::string_view path, std::string_view alias) {
  return deps_.audit.Audited<SecretValue>(
      ctx, "secret.read", [&](AuditEvent& event) -> StatusOr<SecretValue> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kRead));
        RETURN_IF_ERROR(ValidateAliasName(alias));
        auto version =
            store_.GetSecretVersion(vault.id, path, VersionSelector::Alias(std::string(alias)));
        if (!version.has_value()) {
          return Err(version.error());  // "secret not found" or "alias NAME is not set"
        }
        // Counted reads, expiry, disabled and destroyed versions: exactly as by number.
        return Reveal(ctx, std::move(*version), event);
      });
}

StatusOr<AliasMap> SecretService::ChangeAliases(
    const RequestContext& ctx, std::string_view action, std::string_view vault_id,
    std::string_view path,
    const std::function<StatusOr<AliasMap>(const Vault&, AuditEvent&)>& change) {
  return deps_.audit.Audited<AliasMap>(ctx, action, [&](AuditEvent& event) -> StatusOr<AliasMap> {
    AuditLog::SetTarget(event, vault_id, path);
    ASSIGN_OR_RETURN(Vault vault,
                     Authorize(ctx, vault_id, path, Permission::kRotate, Permission::kWrite));
    ASSIGN_OR_RETURN(AliasMap aliases, change(vault, event));
    AuditLog::MarkWritten(ctx);
    return aliases;
  });
}

StatusOr<AliasMap> SecretService::SetAlias(const RequestContext& ctx, std::string_view vault_id,
                                           std::string_view path, std::string_view alias,
                                           int64_t version) {
  return ChangeAliases(ctx, "secret.alias", vault_id, path,
                       [&](const Vault& vault, AuditEvent& event) -> StatusOr<AliasMap> {
                         RETURN_IF_ERROR(ValidateAliasName(alias));
                         if (version < 1) {
                           return Err(InvalidArgumentError("version must be a positive integer"));
                         }
                         event.version = version;
                         return store_.SetSecretAlias(vault.id, path, alias, version,
                                                      AuditLog::Success(event));
                       });
}

StatusOr<AliasMap> SecretService::DeleteAlias(const RequestContext& ctx, std::string_view vault_id,
                                              std::string_view path, std::string_view alias) {
  return ChangeAliases(ctx, "secret.alias", vault_id, path,
                       [&](const Vault& vault, AuditEvent& event) -> StatusOr<AliasMap> {
                         RETURN_IF_ERROR(ValidateAliasName(alias));
                         return store_.DeleteSecretAlias(vault.id, path, alias,
                                                         AuditLog::Success(event));
                       });
}

StatusOr<AliasMap> SecretService::Promote(const RequestContext& ctx, std::string_view vault_id,
                                          std::string_view path) {
  return ChangeAliases(ctx, "secret.promote", vault_id, path,
                       [&](const Vault& vault, AuditEvent& event) -> StatusOr<AliasMap> {
                         return store_.PromoteSecret(vault.id, path, AuditLog::Success(event));
                       });
}

StatusOr<AliasMap> SecretService::Rollback(const RequestContext& ctx, std::string_view vault_id,
                                           std::string_view path) {
  return ChangeAliases(ctx, "secret.rollback", vault_id, path,
                       [&](const Vault& vault, AuditEvent& event) -> StatusOr<AliasMap> {
                         return store_.RollbackSecret(vault.id, path, AuditLog::Success(event));
                       });
}

StatusOr<SecretVersion> SecretService::DestroyVersion(const RequestContext& ctx,
                                                      std::string_view vault_id,
                                                      std::string_view path,
                                                      std::string_view version_text) {
  return deps_.audit.Audited<SecretVersion>(
      ctx, "secret.destroy_version", [&](AuditEvent& event) -> StatusOr<SecretVersion> {
        AuditLog::SetTarget(event, vault_id, path);
        ASSIGN_OR_RETURN(Vault vault,
                         Authorize(ctx, vault_id, path, Permission::kDelete, Permission::kWrite));
        ASSIGN_OR_RETURN(int64_t number, ParseVersionNumber(version_text));
        event.version = number;
        auto destroyed = store_.DestroySecretVersion(vault.id, path, number, clock_.Now(),
                                                     AuditLog::Success(event));
        if (!destroyed.has_value()) {
          return Err(destroyed.error());
        }
        AuditLog::MarkWritten(ctx);
        return destroyed;
      });
}

}  // namespace coffer
