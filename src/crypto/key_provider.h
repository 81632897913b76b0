// Key providers: where the root key comes from, and the RootKey seam through which the keyring
// seals and opens its keys under it. The root key never touches the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

inline constexpr size_t kRootKeySize = 32;

// Which kind of root key sealed a keyring key: the first byte of every sealed form says.
enum class RootKeyKind {
  kUnknown,
  kBytes,   // a key Coffer holds (key file, environment variable): AES-256-GCM, format 0x01
  kPkcs11,  // a key inside a PKCS#11 token: format 0x50 ('P')
};
inline constexpr uint8_t kSealedByPkcs11 = 0x50;
RootKeyKind SealedRootKind(std::span<const uint8_t> sealed);
std::string_view RootKeyKindName(RootKeyKind kind);

// The root key as the keyring uses it: it seals and opens the keyring's own keys, bound to
// associated data (their purpose and id). A key file's root key holds the bytes; a PKCS#11 root
// key keeps them inside the token. Thread-safe.
class RootKey {
 public:
  virtual ~RootKey() = default;
  // Seals `key` (a keyring key) bound to `aad`. kUnavailable when the key provider cannot be
  // reached (payload key_provider_unavailable).
  virtual StatusOr<std::vector<uint8_t>> Seal(const SecretBuffer& key,
                                              std::span<const uint8_t> aad) = 0;
  // Opens what Seal sealed. kFailedPrecondition when `sealed` was not sealed by this root key
  // (or with other associated data); kUnavailable when the key provider cannot be reached.
  virtual StatusOr<SecretBuffer> Open(std::span<const uint8_t> sealed,
                                      std::span<const uint8_t> aad) = 0;
  virtual RootKeyKind kind() const = 0;
  // "key file /var/lib/coffer/root.key", "PKCS#11 token coffer, object root", for messages.
  virtual std::string Describe() const = 0;
};

// A root key Coffer holds as 32 bytes: AES-256-GCM sealed blobs naming key id 0 (the format of
// every keyring before PKCS#11). `random` must outlive it.
std::unique_ptr<RootKey> NewBytesRootKey(SecretBuffer key, Random& random, std::string describe);

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The root key (32 bytes). kNotFound / kFailedPrecondition with a message fit for an operator
  // (which file or variable, what is wrong), never containing key material. A provider whose key
  // never leaves its device answers kFailedPrecondition: use OpenRootKey.
  virtual StatusOr<SecretBuffer> LoadRootKey() = 0;
  // The root key to seal and open keyring keys with. For a key file, a fresh RootKey holding the
  // bytes just read (drop it to wipe them); for PKCS#11, the provider's one long-lived handle.
  // `random` must outlive the result.
  virtual StatusOr<std::shared_ptr<RootKey>> OpenRootKey(Random& random);
  // Whether the root key can be used now. A provider whose device can fail (a PKCS#11 token)
  // checks it, and re-opens its session after a failure (rate-limited); kUnavailable (payload
  // key_provider_unavailable) saying why when it cannot. Others answer OK. Thread-safe.
  virtual Status CheckReachable() { return OkStatus(); }
  // How many times the root key could not be reached, for /metrics. Thread-safe.
  virtual uint64_t failure_count() const { return 0; }
  // "key file /var/lib/coffer/root.key", for messages.
  virtual std::string Describe() const = 0;
};

// A file holding the key as 64 hex characters (and an optional newline). Refuses a file that
// others may read (mode & 077).
std::unique_ptr<KeyProvider> NewFileKeyProvider(std::string path);

// An environment variable holding the key as 64 hex characters.
std::unique_ptr<KeyProvider> NewEnvKeyProvider(std::string variable);

// How long a request waits on a call into a key provider's device (--key-provider-timeout).
inline constexpr std::chrono::milliseconds kDefaultKeyProviderTimeout{2000};

// The provider a --root-key-uri names: "file:PATH" (a key file) or an RFC 7512 "pkcs11:" URI
// (crypto/pkcs11_key_provider.h), whose calls into the token wait at most `call_timeout`.
// kInvalidArgument for anything else, naming what is accepted.
StatusOr<std::unique_ptr<KeyProvider>> KeyProviderForUri(
    const std::string& uri, std::chrono::milliseconds call_timeout = kDefaultKeyProviderTimeout);

// Creates `path` with a fresh random key, mode 0600, failing with kAlreadyExists if it exists
// (never overwrites a root key).
Status CreateRootKeyFile(const std::string& path, Random& random);

}  // namespace coffer
