// Keyring: the data keys, each wrapped under the root key, with ids. Encrypts new values with
// the active data key and opens values sealed under any key it holds. Also holds the HMAC pepper
// for credentials and the Ed25519 token signing keys (the current one signs; the ones it
// replaced verify until every token they signed has expired). Safe for concurrent use once
// built; the data and token keys can be refreshed from the store while in use (key rotation).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/hmac_key.h"
#include "crypto/jwt.h"
#include "crypto/key_provider.h"
#include "model/secret.h"

namespace coffer {

inline constexpr std::string_view kKeyPurposeData = "data";
inline constexpr std::string_view kKeyPurposePepper = "hmac-pepper";
// The HS256 key of earlier versions: still unwrapped (so a wrong root key is caught), unused.
inline constexpr std::string_view kKeyPurposeJwt = "jwt";
// An Ed25519 seed that signs access tokens (EdDSA).
inline constexpr std::string_view kKeyPurposeTokenSigning = "jwt-ed25519";

// Pepper rotation (docs/operations.md, "Rotating the pepper"). The keyring holds every stored
// pepper: the active one (the newest active key of purpose hmac-pepper) and those it replaced.
// Each stored HMAC (a credential's secret, a share link's token) names the pepper ids that made
// it, innermost first: [p] is HMAC(p, secret); [p, q] is HMAC(q, HMAC(p, secret)), the form
// `coffer keys rewrap-pepper` gives a row without its plaintext, so every stored hash depends on
// the new pepper at once. A credential is checked under the chain its row names (one row per
// public id: the cost of a wrong secret does not depend on the pepper); a share link, looked up by
// its HMAC, under each chain the held peppers allow, active first, so an unknown link costs the
// same whichever pepper a real one is on. A verify under anything but [writing pepper] stores the
// plain hash under the writing pepper (conditional on the old hash: racing servers do no harm).
// An inner pepper of a chain must stay held until no row names it: chaining hides the old pepper
// behind the new one, it does not make it unnecessary. A new pepper is written with only after
// it is kPepperSettle old, so every server holds it (refresh interval) before any row needs it.
inline constexpr UnixMicros kPepperSettle = 10 * kMicrosPerSecond;

// A token signing key as published (JWKS): kid, raw public key, and whether it signs new tokens.
struct PublicTokenKey {
  uint32_t id = 0;
  std::string kid;
  std::vector<uint8_t> public_key;
  bool current = false;
};

class Keyring {
 public:
  // Each function taking a `RootKey&` seals or opens the keyring's keys through it (a key file's
  // bytes, or a PKCS#11 token); the `SecretBuffer` overloads are the same with a 32-byte root key
  // held in memory. A root key that cannot be reached answers kUnavailable (passed on as is).

  // Fresh keys for a new data directory (data, pepper, token signing: ids 1..3), wrapped under
  // `root_key`, to be stored.
  static StatusOr<std::vector<WrappedKey>> CreateInitialKeys(RootKey& root_key, Random& random,
                                                             UnixMicros now);
  static StatusOr<std::vector<WrappedKey>> CreateInitialKeys(const SecretBuffer& root_key,
                                                             Random& random, UnixMicros now);

  // Wraps a new key for `purpose` with id `id` (for key rotation).
  static StatusOr<WrappedKey> CreateKey(RootKey& root_key, uint32_t id, std::string_view purpose,
                                        Random& random, UnixMicros now);
  static StatusOr<WrappedKey> CreateKey(const SecretBuffer& root_key, uint32_t id,
                                        std::string_view purpose, Random& random, UnixMicros now);

  // Opens `wrapped` under `from` and seals it again under `to` (coffer keys migrate-root); the
  // result is the same key, id and purpose. kFailedPrecondition when it does not open under
  // `from`.
  static StatusOr<WrappedKey> Reseal(const WrappedKey& wrapped, RootKey& from, RootKey& to);
  // Whether `wrapped` opens under `root_key`, to a key of the right size.
  static Status Verify(const WrappedKey& wrapped, RootKey& root_key);

  // Unwraps stored keys. kFailedPrecondition "root key does not match …" when any key fails to
  // unwrap (wrong root key); kFailedPrecondition when the data or pepper purpose has no active
  // key. Without a token signing key (a store from before they existed) tokens cannot be signed
  // until one is added (EnsureTokenSigningKey) and refreshed in.
  static StatusOr<std::unique_ptr<Keyring>> Unwrap(const std::vector<WrappedKey>& keys,
                                                   RootKey& root_key, Random& random);
  static StatusOr<std::unique_ptr<Keyring>> Unwrap(const std::vector<WrappedKey>& keys,
                                                   const SecretBuffer& root_key, Random& random);

  // Seals under the active data key. Thread-safe.
  StatusOr<std::vector<uint8_t>> Encrypt(std::span<const uint8_t> plaintext,
                                         std::span<const uint8_t> aad) const;
  // Opens a blob under whichever data key it names. kDataLoss for an unknown key id or any
  // integrity failure. Thread-safe.
  StatusOr<SecretBuffer> Decrypt(std::span<const uint8_t> blob, std::span<const uint8_t> aad) const;

  // Brings the data keys in line with `keys` (the store's keyring, as LoadKeys returns it):
  // unwraps data keys not held yet, drops those no longer stored (retired), and makes the
  // newest active one the key for new writes. The pepper and JWT key are left as they are.
  // Returns whether anything changed. kFailedPrecondition when a new key does not unwrap under
  // `root_key` or no data key is active; the keyring is then unchanged. Thread-safe.
  StatusOr<bool> RefreshDataKeys(const std::vector<WrappedKey>& keys, RootKey& root_key);
  StatusOr<bool> RefreshDataKeys(const std::vector<WrappedKey>& keys, const SecretBuffer& root_key);
  // True when every data key of `keys` is held and the active one is the one in use: a
  // refresh would change nothing, and needs no root key. Thread-safe.
  bool DataKeysMatch(const std::vector<WrappedKey>& keys) const;
  // Whether a data key of this id is held. Thread-safe.
  bool HoldsDataKey(uint32_t id) const;

  // As RefreshDataKeys, for the token signing keys: unwraps new ones, drops those no longer
  // stored, and signs with the newest active one. Thread-safe.
  StatusOr<bool> RefreshTokenKeys(const std::vector<WrappedKey>& keys, RootKey& root_key);
  StatusOr<bool> RefreshTokenKeys(const std::vector<WrappedKey>& keys,
                                  const SecretBuffer& root_key);
  // True when the token signing keys held are exactly those of `keys`. Thread-safe.
  bool TokenKeysMatch(const std::vector<WrappedKey>& keys) const;

  // As RefreshDataKeys, for the peppers: unwraps new ones, drops those no longer stored, and
  // makes the newest active one the active pepper. Thread-safe.
  StatusOr<bool> RefreshPeppers(const std::vector<WrappedKey>& keys, RootKey& root_key);
  StatusOr<bool> RefreshPeppers(const std::vector<WrappedKey>& keys, const SecretBuffer& root_key);
  // True when the peppers held are exactly those of `keys`, with the same one active.
  bool PeppersMatch(const std::vector<WrappedKey>& keys) const;
  // The chained HMAC of `data` under `pepper_ids` (innermost first; see the top of this file).
  // kNotFound when a pepper named is not held (retired, or not refreshed in yet);
  // kInvalidArgument for an empty chain. Thread-safe.
  StatusOr<std::vector<uint8_t>> PepperMac(std::span<const uint32_t> pepper_ids,
                                           std::string_view data) const;
  // The pepper new hashes are made under at `now`: the newest held pepper at least kPepperSettle
  // old, or the oldest held when none is (a new store). Thread-safe.
  uint32_t WritingPepperId(UnixMicros now) const;
  // A copy of the pepper of id `id` (empty when not held). Thread-safe.
  SecretBuffer PepperKey(uint32_t id) const;
  // The ids of the peppers held, ascending. Thread-safe.
  std::vector<uint32_t> PepperIds() const;
  uint32_t active_pepper_id() const {
    ReaderMutexLock lock(mu_);
    return active_pepper_id_;
  }

  // Signs `claims` with the current token signing key. kFailedPrecondition when there is none.
  StatusOr<std::string> SignToken(const JwtClaims& claims) const;
  // Verifies a token signed by the current key, or by a key it replaced less than
  // `token_lifetime` microseconds before `now`. Thread-safe.
  StatusOr<JwtClaims> VerifyToken(std::string_view token, UnixMicros now,
                                  UnixMicros token_lifetime) const;
  // The keys VerifyToken accepts at `now`, current first. Thread-safe.
  std::vector<PublicTokenKey> TokenPublicKeys(UnixMicros now, UnixMicros token_lifetime) const;

  uint32_t active_data_key_id() const {
    ReaderMutexLock lock(mu_);
    return active_data_key_id_;
  }
  // A copy of the active pepper.
  SecretBuffer pepper() const { return PepperKey(active_pepper_id()); }
  Random& random() const { return random_; }

 private:
  explicit Keyring(Random& random) : random_(random) {}

  Random& random_;
  mutable SharedMutex mu_;
  std::map<uint32_t, SecretBuffer> data_keys_ COFFER_GUARDED_BY(mu_);
  uint32_t active_data_key_id_ COFFER_GUARDED_BY(mu_) = 0;
  struct TokenKey {
    SecretBuffer seed;
    PublicTokenKey published;
    UnixMicros created_at = 0;
  };
  // The held token keys' verification keys for `now` (lock held).
  std::vector<JwtVerificationKey> AcceptedLocked(UnixMicros now, UnixMicros token_lifetime) const
      COFFER_REQUIRES_SHARED(mu_);
  // Unwraps one token signing key.
  static StatusOr<TokenKey> UnwrapTokenKey(RootKey& root_key, const WrappedKey& wrapped);

  struct Pepper {
    explicit Pepper(SecretBuffer k, UnixMicros at) : key(std::move(k)), mac(key), created_at(at) {}
    SecretBuffer key;
    HmacSha256Key mac;
    UnixMicros created_at = 0;
  };
  std::map<uint32_t, std::shared_ptr<const Pepper>> peppers_ COFFER_GUARDED_BY(mu_);
  uint32_t active_pepper_id_ COFFER_GUARDED_BY(mu_) = 0;
  std::map<uint32_t, TokenKey> token_keys_ COFFER_GUARDED_BY(mu_);
  uint32_t current_token_key_id_ COFFER_GUARDED_BY(mu_) = 0;
};

}  // namespace coffer
