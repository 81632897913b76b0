// User and user-API-key rules.
#include "service/user_service.h"

#include <fmt/format.h>

#include "common/ids.h"
#include "crypto/api_token.h"
#include "service/vault_service.h"

namespace coffer {

StatusOr<User> UserService::Accessible(const RequestContext& ctx, std::string_view user_id) {
  const bool self = ctx.principal.kind == PrincipalKind::kUser && ctx.principal.id == user_id;
  if (!ctx.principal.is_admin && !self) {
    return Err(PermissionDeniedError("only the admin or the user itself may do this"));
  }
  if (!IsUuid(user_id)) return Err(InvalidArgumentError("user_id must be a UUID"));
  auto user = deps_.store.GetUser(user_id);
  if (!user.has_value()) return Err(NotFoundAs(user.error(), "user not found"));
  return user;
}

StatusOr<User> UserService::Create(const RequestContext& ctx, std::string name) {
  return deps_.audit.Audited<User>(ctx, "user.create", [&](AuditEvent& event) -> StatusOr<User> {
    if (!ctx.principal.is_admin) return Err(PermissionDeniedError("only the admin creates users"));
    RETURN_IF_ERROR(ValidateName(name, "name"));
    User user;
    user.id = NewUuid(deps_.random);
    user.name = std::move(name);
    user.created_at = deps_.clock.Now();
    Status s = deps_.store.InsertUser(user, AuditLog::Success(event));
    if (s.code() == StatusCode::kAlreadyExists) {
      return Err(AlreadyExistsError(fmt::format("a user named '{}' already exists", user.name)));
    }
    RETURN_IF_ERROR(s);
    AuditLog::MarkWritten(ctx);
    return user;
  });
}

StatusOr<std::vector<User>> UserService::List(const RequestContext& ctx) {
  return deps_.audit.Audited<std::vector<User>>(
      ctx, "user.list", [&](AuditEvent&) -> StatusOr<std::vector<User>> {
        if (!ctx.principal.is_admin) {
          return Err(PermissionDeniedError("only the admin lists users"));
        }
        return deps_.store.ListUsers();
      });
}

StatusOr<User> UserService::Get(const RequestContext& ctx, std::string_view user_id) {
  return deps_.audit.Audited<User>(
      ctx, "user.read", [&](AuditEvent&) -> StatusOr<User> { return Accessible(ctx, user_id); });
}

StatusOr<IssuedCredential> UserService::CreateApiKey(const RequestContext& ctx,
                                                     std::string_view user_id, std::string name) {
  return deps_.audit.Audited<IssuedCredential>(
      ctx, "apikey.create", [&](AuditEvent& event) -> StatusOr<IssuedCredential> {
        ASSIGN_OR_RETURN(User user, Accessible(ctx, user_id));
        RETURN_IF_ERROR(ValidateName(name, "name"));
        ASSIGN_OR_RETURN(IssuedCredential key,
                         MintCredential(kTokenKindApiKey, PrincipalKind::kUser, user.id, name,
                                        keyring_, deps_.clock.Now()));
        Status s = deps_.store.InsertCredential(key.credential, AuditLog::Success(event));
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return key;
      });
}

StatusOr<std::vector<Credential>> UserService::ListApiKeys(const RequestContext& ctx,
                                                           std::string_view user_id) {
  return deps_.audit.Audited<std::vector<Credential>>(
      ctx, "apikey.list", [&](AuditEvent&) -> StatusOr<std::vector<Credential>> {
        ASSIGN_OR_RETURN(User user, Accessible(ctx, user_id));
        ASSIGN_OR_RETURN(std::vector<Credential> all,
                         deps_.store.ListCredentials(PrincipalKind::kUser, user.id));
        std::erase_if(all, [](const Credential& c) { return c.kind != kTokenKindApiKey; });
        return all;
      });
}

Status UserService::RevokeApiKey(const RequestContext& ctx, std::string_view user_id,
                                 std::string_view key_id) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "apikey.revoke", [&](AuditEvent& event) -> StatusOr<bool> {
        ASSIGN_OR_RETURN(User user, Accessible(ctx, user_id));
        auto credential = deps_.store.GetCredential(key_id);
        if (!credential.has_value()) {
          return Err(NotFoundAs(credential.error(), "API key not found"));
        }
        if (credential->principal_kind != PrincipalKind::kUser ||
            credential->principal_id != user.id || credential->kind != kTokenKindApiKey) {
          return Err(NotFoundError("API key not found"));
        }
        Status s = deps_.store.RevokeCredential(credential->public_id, deps_.clock.Now(),
                                                AuditLog::Success(event));
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

}  // namespace coffer
