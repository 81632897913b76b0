// AES-256-GCM sealing of values into self-describing blobs:
//   format(1) = 0x01 | key_id(4, big endian) | nonce(12) | ciphertext | tag(16)
// The associated data binds a blob to its place (see SecretAad), so a blob copied to another
// row, truncated or altered fails to open. GCM authenticates the 5 header bytes too (they are
// prepended to the caller's associated data), so the format byte and key id cannot be altered.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr uint8_t kBlobFormatV1 = 0x01;
inline constexpr size_t kBlobOverhead = 1 + 4 + kAeadNonceSize + kAeadTagSize;

// Seals `plaintext` under `key` (32 bytes) with a fresh random nonce. kInvalidArgument for a
// wrong key size, kInternal if OpenSSL or the random source fails. Thread-safe.
StatusOr<std::vector<uint8_t>> AeadSeal(const SecretBuffer& key, uint32_t key_id,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> aad, Random& random);

// The key id a blob names, or kDataLoss when the blob is too short or of an unknown format.
StatusOr<uint32_t> AeadBlobKeyId(std::span<const uint8_t> blob);

// Opens a blob sealed by AeadSeal. kDataLoss for any tampering, truncation, wrong key or wrong
// associated data (the message never says which, nor includes any bytes). Thread-safe.
StatusOr<SecretBuffer> AeadOpen(const SecretBuffer& key, std::span<const uint8_t> blob,
                                std::span<const uint8_t> aad);

// Associated data for a secret value: "coffer/secret/v1" | vault id | secret id | version.
std::vector<uint8_t> SecretAad(std::string_view vault_id, std::string_view secret_id,
                               int64_t version);

}  // namespace coffer
