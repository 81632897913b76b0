// AuthService: turns an Authorization header into a Principal (API key or short-lived JWT), and
// exchanges API keys for JWTs. Verification costs the same whether a key's id is unknown or its
// secret wrong. Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/clock.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "service/principal.h"
#include "store/store.h"

namespace coffer {

struct AccessToken {
  SecretBuffer token;
  UnixMicros expires_at = 0;
  int64_t expires_in_seconds = 0;
};

class AuthService {
 public:
  struct Options {
    std::chrono::seconds token_ttl{900};
  };
  AuthService(Store& store, const Keyring& keyring, const Clock& clock, Options options)
      : store_(store), keyring_(keyring), clock_(clock), options_(options) {}

  // Authenticates "Bearer <api key or JWT>". kUnauthenticated with a reason that never echoes
  // the credential.
  StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization_header);

  // Verifies an API key and issues a JWT for its principal. kUnauthenticated.
  StatusOr<AccessToken> IssueToken(std::string_view api_key);

 private:
  StatusOr<Principal> AuthenticateApiKey(std::string_view api_key);
  StatusOr<Principal> AuthenticateJwt(std::string_view jwt);
  StatusOr<Principal> PrincipalFor(const Credential& credential);

  Store& store_;
  const Keyring& keyring_;
  const Clock& clock_;
  Options options_;
};

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
