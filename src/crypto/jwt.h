// Short-lived access tokens: HS256 JWTs (libjwt) signed with the keyring's JWT key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

// In the token, `sub` is `<principal_kind>:<principal id>` (`agent:<uuid>`, `user:<uuid>`), as
// the seeds' clients read it; tokens signed before that carry the bare id, and still verify.
struct JwtClaims {
  std::string subject;         // principal id (without the kind)
  std::string principal_kind;  // "user" | "agent"
  std::string credential_id;   // public id of the API key it was exchanged for
  std::string token_id;        // jti
  UnixMicros issued_at = 0;    // whole seconds in the token
  UnixMicros expires_at = 0;
  // Signed as the `vault_ids` claim (an array of ids) when the kind is "agent"; informational
  // for clients (access is decided by the policies at each request), so not read back.
  std::vector<std::string> vault_ids;
};

// kInternal if signing fails.
StatusOr<std::string> SignJwt(const JwtClaims& claims, const SecretBuffer& key);

// Verifies signature (HS256 only; "none" and every other alg refused), issuer, and expiry
// against `now`. kUnauthenticated with a reason that never includes the token.
StatusOr<JwtClaims> VerifyJwt(std::string_view token, const SecretBuffer& key, UnixMicros now);

}  // namespace coffer
