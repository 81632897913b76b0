// AuthService: turns an Authorization header into a Principal (API key or short-lived JWT),
// exchanges API keys for JWTs, and verifies credentials for rotation. Verified credentials are
// cached in memory so a warm request costs no store round trip; whoever revokes or rotates a
// credential calls InvalidatePrincipal before answering, so the old one is refused the moment
// that call returns. An unknown id costs the same HMAC as a wrong secret. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/hmac_key.h"
#include "crypto/keyring.h"
#include "model/identity.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

struct AccessToken {
  SecretBuffer token;
  UnixMicros expires_at = 0;
  int64_t expires_in_seconds = 0;
};

// A credential whose secret matched, with the principal it belongs to.
struct VerifiedCredential {
  Credential credential;
  Principal principal;
  bool principal_revoked = false;  // an agent that was revoked
};

class AuthService {
 public:
  struct Options {
    std::chrono::seconds token_ttl{900};
  };
  // When the store is shared with other processes (several servers on PostgreSQL), nothing is
  // cached: a credential revoked through another server must be refused here at once, and only
  // the store knows. Each authentication then reads the credential and its principal.
  AuthService(const ServiceDeps& deps, const Keyring& keyring, Options options)
      : deps_(deps),
        keyring_(keyring),
        pepper_mac_(keyring.pepper()),
        options_(options),
        caching_(!deps.store.SharedByOtherProcesses()) {}

  // Authenticates "Bearer <api key or JWT>". kUnauthenticated with a reason that never echoes
  // the credential; kPermissionDenied for a revoked agent.
  StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization_header);

  // Verifies an API key and issues a JWT for its principal; audited as auth.token.
  StatusOr<AccessToken> IssueToken(const RequestContext& anonymous, std::string_view api_key);

  // Verifies a token of `kind` ("key" or "rot") that is not revoked. kUnauthenticated otherwise.
  // A credential of a revoked agent verifies (even though revoked with it), with
  // principal_revoked set, so callers can answer 403 rather than 401.
  StatusOr<VerifiedCredential> Verify(std::string_view token, std::string_view kind);

  // Forgets every cached credential of the principal, and every remembered unknown id. Call
  // after creating, revoking or rotating any of its credentials.
  void InvalidatePrincipal(PrincipalKind kind, std::string_view principal_id);

  // The Bearer credential of an Authorization header, or kUnauthenticated.
  static StatusOr<std::string_view> BearerToken(std::optional<std::string_view> header);

 private:
  struct CacheEntry {
    // False for an id the store does not know: remembered too, so that an unknown id and a
    // wrong secret cost the same once warm.
    bool exists = true;
    Credential credential;
    Principal principal;
    bool principal_revoked = false;
  };
  // The credential with its principal, from the cache or the store. kNotFound if unknown.
  StatusOr<CacheEntry> Lookup(std::string_view public_id);
  StatusOr<Principal> FromVerified(const VerifiedCredential& verified);
  StatusOr<Principal> AuthenticateJwt(std::string_view jwt);

  static constexpr size_t kMaxCacheEntries = 100'000;

  ServiceDeps deps_;
  const Keyring& keyring_;
  const HmacSha256Key pepper_mac_;  // HMAC under the pepper, which never changes while running
  Options options_;
  const bool caching_;  // false on a store shared with other processes

  std::shared_mutex mu_;
  uint64_t generation_ = 0;                                 // guarded by mu_
  std::unordered_map<std::string, CacheEntry> credentials_;  // guarded by mu_
};

// A new credential for a principal: the record to store and the token to show once.
struct IssuedCredential {
  Credential credential;
  SecretBuffer token;
};
StatusOr<IssuedCredential> MintCredential(std::string_view kind, PrincipalKind principal_kind,
                                          std::string_view principal_id, std::string_view name,
                                          const Keyring& keyring, UnixMicros now);

// The first admin of a new data directory and its API key (shown once).
struct BootstrapResult {
  User admin;
  SecretBuffer api_key;
};

// Stores a fresh keyring (wrapped under `root_key`) and creates the admin user with one API key.
// kAlreadyExists when the store already holds a keyring.
StatusOr<BootstrapResult> InitializeStore(Store& store, const SecretBuffer& root_key,
                                          Random& random, const Clock& clock);

// Offline recovery of admin access (`coffer admin recover`, run by the operator with the root
// key when no admin API key works): a new API key named `key_name` for the first admin user,
// stored together with an audit event `admin.recovered` (actor "system"/"offline", path
// "users/<admin id>/api-keys/<key id>") in one transaction. Returns the admin and the key (shown
// once). kFailedPrecondition when the store has no admin user; store errors otherwise.
// REQUIRES: `keyring` was unwrapped from this store's keys (so its pepper is the store's).
StatusOr<BootstrapResult> RecoverAdminAccess(Store& store, const Keyring& keyring,
                                             const Clock& clock, std::string_view key_name);

}  // namespace coffer
