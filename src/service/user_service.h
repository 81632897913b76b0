// UserService: the admin creates users; a user (or the admin) manages that user's named API
// keys. Revoking a key takes effect before the call returns. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "model/secret.h"
#include "service/auth_service.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

class UserService {
 public:
  UserService(const ServiceDeps& deps, const Keyring& keyring) : deps_(deps), keyring_(keyring) {}

  // Admin only. kInvalidArgument bad name; kAlreadyExists duplicate.
  StatusOr<User> Create(const RequestContext& ctx, std::string name);
  StatusOr<std::vector<User>> List(const RequestContext& ctx);              // admin only
  StatusOr<User> Get(const RequestContext& ctx, std::string_view user_id);  // admin or self

  // Admin or the user itself. The token is shown once.
  StatusOr<IssuedCredential> CreateApiKey(const RequestContext& ctx, std::string_view user_id,
                                          std::string name);
  StatusOr<std::vector<Credential>> ListApiKeys(const RequestContext& ctx,
                                                std::string_view user_id);
  // kFailedPrecondition for the last active API key of an admin (see Store::RevokeCredential):
  // the deployment must keep a way in.
  Status RevokeApiKey(const RequestContext& ctx, std::string_view user_id, std::string_view key_id);
  // Admin or the user itself: replaces API key `key_id` with a new one of the same name (shown
  // once). The old key keeps working `grace_seconds` (0..kMaxGraceSeconds, else
  // kInvalidArgument naming grace_seconds), 0: it stops at once. kNotFound for a key that is not
  // the user's; kFailedPrecondition when it is already revoked or in a grace window.
  // (key_rotation.cc)
  StatusOr<IssuedCredential> RotateApiKey(const RequestContext& ctx, std::string_view user_id,
                                          std::string_view key_id, int64_t grace_seconds);

 private:
  // kPermissionDenied unless the caller is the admin or the user `user_id` itself; kNotFound
  // for an unknown user (only told to the admin).
  StatusOr<User> Accessible(const RequestContext& ctx, std::string_view user_id);

  ServiceDeps deps_;
  const Keyring& keyring_;
};

}  // namespace coffer
