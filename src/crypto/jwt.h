// Short-lived access tokens: EdDSA (Ed25519) JWTs signed with the keyring's token signing key,
// whose `kid` names the key, so that anyone holding the published public keys can verify them.
#pragma once

#include <cstdint>
#include <span>
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

// The `iss` of every token.
inline constexpr std::string_view kJwtIssuer = "coffer";
// Ed25519 seeds (private keys) and public keys are 32 bytes.
inline constexpr size_t kEd25519KeySize = 32;

// A key a token may be verified with: its kid and raw Ed25519 public key.
struct JwtVerificationKey {
  std::string kid;
  std::vector<uint8_t> public_key;
};

// The raw public key of an Ed25519 seed. kInvalidArgument for a seed of the wrong size.
StatusOr<std::vector<uint8_t>> Ed25519PublicKey(const SecretBuffer& seed);
// The RFC 7638 JWK thumbprint of an Ed25519 public key (base64url SHA-256 of the canonical
// JWK), used as its `kid`.
std::string Ed25519Thumbprint(std::span<const uint8_t> public_key);
// base64url without padding (RFC 7515).
std::string Base64UrlNoPad(std::span<const uint8_t> in);

// Signs `claims` with the Ed25519 `seed`, naming `kid` in the header. kInternal if signing
// fails; kInvalidArgument for claims that cannot be written.
StatusOr<std::string> SignJwt(const JwtClaims& claims, std::string_view kid,
                              const SecretBuffer& seed);

// Verifies the signature (alg EdDSA with a kid among `keys` only; "none", HS256 and every other
// alg refused), issuer, and expiry against `now`. kUnauthenticated with a reason that never
// includes the token.
StatusOr<JwtClaims> VerifyJwt(std::string_view token, std::span<const JwtVerificationKey> keys,
                              UnixMicros now);

}  // namespace coffer
