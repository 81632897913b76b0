// Keyring: the data keys, each wrapped under the root key, with ids. Encrypts new values with
// the active data key and opens values sealed under any key it holds. Also holds the HMAC pepper
// for credentials and the JWT signing key. Safe for concurrent use once built; the data keys can
// be refreshed from the store while in use (key rotation), the pepper and JWT key cannot.
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
#include "crypto/key_provider.h"
#include "model/secret.h"

namespace coffer {

inline constexpr std::string_view kKeyPurposeData = "data";
inline constexpr std::string_view kKeyPurposePepper = "hmac-pepper";
inline constexpr std::string_view kKeyPurposeJwt = "jwt";

class Keyring {
 public:
  // Each function taking a `RootKey&` seals or opens the keyring's keys through it (a key file's
  // bytes, or a PKCS#11 token); the `SecretBuffer` overloads are the same with a 32-byte root key
  // held in memory. A root key that cannot be reached answers kUnavailable (passed on as is).

  // Fresh keys for a new data directory (one active key per purpose, ids 1..3), wrapped under
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
  // unwrap (wrong root key); kFailedPrecondition when a purpose has no active key.
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

  uint32_t active_data_key_id() const {
    ReaderMutexLock lock(mu_);
    return active_data_key_id_;
  }
  const SecretBuffer& pepper() const { return pepper_; }
  const SecretBuffer& jwt_key() const { return jwt_key_; }
  Random& random() const { return random_; }

 private:
  explicit Keyring(Random& random) : random_(random) {}

  Random& random_;
  mutable SharedMutex mu_;
  std::map<uint32_t, SecretBuffer> data_keys_ COFFER_GUARDED_BY(mu_);
  uint32_t active_data_key_id_ COFFER_GUARDED_BY(mu_) = 0;
  SecretBuffer pepper_;
  SecretBuffer jwt_key_;
};

}  // namespace coffer
