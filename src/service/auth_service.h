// AuthService: turns an Authorization header into a Principal (API key or short-lived JWT),
// exchanges API keys for JWTs, and verifies credentials for rotation. Verified credentials are
// cached in memory so a warm request costs no store round trip. The cache follows the store's
// change feed: a credential revoked or rotated, or an agent revoked, through this process is
// refused the moment that call returns; through another server on a shared store, within
// kMaxChangeDelay; and nothing is served from memory while the feed is not Current(). An
// unknown id costs the same HMAC as a wrong secret. Thread-safe.
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
    // The feed the credential cache follows; null: the store's own (a test may report changes
    // by hand instead). Must outlive the service.
    ChangeFeed* changes = nullptr;
  };
  AuthService(const ServiceDeps& deps, const Keyring& keyring, Options options);

  // Authenticates "Bearer <api key or JWT>". kUnauthenticated with a reason that never echoes
  // the credential; kPermissionDenied for a revoked agent.
  StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization_header);

  // Verifies an API key and issues a JWT for its principal; audited as auth.token.
  StatusOr<AccessToken> IssueToken(const RequestContext& anonymous, std::string_view api_key);

  // Verifies a token of `kind` ("key" or "rot") that is not revoked. kUnauthenticated otherwise.
  // A credential of a revoked agent verifies (even though revoked with it), with
  // principal_revoked set, so callers can answer 403 rather than 401.
  StatusOr<VerifiedCredential> Verify(std::string_view token, std::string_view kind);

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
  // Forgets what `change` makes stale: a credential, every credential of a principal (and every
  // remembered unknown id, which may be one of its new ones), or everything.
  void OnChange(const StoreChange& change);

  static constexpr size_t kMaxCacheEntries = 100'000;

  ServiceDeps deps_;
  const Keyring& keyring_;
  const HmacSha256Key pepper_mac_;  // HMAC under the pepper, which never changes while running
  Options options_;
  ChangeFeed& changes_;

  std::shared_mutex mu_;
  // Bumped by every change reported; a fill that started before a bump is not kept.
  uint64_t generation_ = 0;                                 // guarded by mu_
  std::unordered_map<std::string, CacheEntry> credentials_;  // guarded by mu_
  ChangeFeed::Subscription subscription_;  // last: unsubscribed before the map goes
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

}  // namespace coffer
