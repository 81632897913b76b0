// AES-256-GCM sealing and opening of self-describing blobs with OpenSSL EVP.
// The blob header (format byte and key id) is authenticated along with the caller's associated
// data, so no byte of a blob can be changed without the open failing.
#include "crypto/aead.h"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace coffer {
namespace {

constexpr size_t kHeaderSize = 1 + 4;
// One message for every way a blob can fail to open, so a caller (or an attacker probing with
// altered blobs) learns nothing about which check failed.
constexpr std::string_view kOpenFailure = "encrypted value failed its integrity check";

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

void PutU32(uint8_t* out, uint32_t v) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

uint32_t GetU32(const uint8_t* in) {
  return (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16) | (uint32_t{in[2]} << 8) |
         uint32_t{in[3]};
}

// Writes a 4-byte big-endian length and then the field; returns the position after it.
uint8_t* PutLengthPrefixed(uint8_t* out, std::string_view field) {
  PutU32(out, static_cast<uint32_t>(field.size()));
  std::copy(field.begin(), field.end(), out + 4);
  return out + 4 + field.size();
}

// Feeds the blob header and then the caller's associated data to GCM as AAD.
bool AddAad(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> header, std::span<const uint8_t> aad) {
  int len = 0;
  if (EVP_CipherUpdate(ctx, nullptr, &len, header.data(), static_cast<int>(header.size())) != 1) {
    return false;
  }
  if (!aad.empty() &&
      EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  return true;
}

}  // namespace

StatusOr<std::vector<uint8_t>> AeadSeal(const SecretBuffer& key, uint32_t key_id,
                                        std::span<const uint8_t> plaintext,
                                        std::span<const uint8_t> aad, Random& random) {
  if (key.size() != kAeadKeySize) return Err(InvalidArgumentError("AEAD key must be 32 bytes"));
  if (plaintext.size() > INT_MAX - kBlobOverhead || aad.size() > INT_MAX) {
    return Err(InvalidArgumentError("value too large to encrypt"));
  }
  std::vector<uint8_t> blob(kBlobOverhead + plaintext.size());
  uint8_t* header = blob.data();
  uint8_t* nonce = header + kHeaderSize;
  uint8_t* ciphertext = nonce + kAeadNonceSize;
  uint8_t* tag = ciphertext + plaintext.size();
  header[0] = kBlobFormatV1;
  PutU32(header + 1, key_id);
  RETURN_IF_ERROR(random.Fill({nonce, kAeadNonceSize}));

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return Err(InternalError("out of memory creating cipher context"));
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      !AddAad(ctx.get(), {header, kHeaderSize}, aad)) {
    return Err(InternalError("AES-GCM encryption failed"));
  }
  if (!plaintext.empty() && (EVP_EncryptUpdate(ctx.get(), ciphertext, &len, plaintext.data(),
                                               static_cast<int>(plaintext.size())) != 1 ||
                             static_cast<size_t>(len) != plaintext.size())) {
    return Err(InternalError("AES-GCM encryption failed"));
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ciphertext + plaintext.size(), &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagSize), tag) !=
          1) {
    return Err(InternalError("AES-GCM encryption failed"));
  }
  return blob;
}

StatusOr<uint32_t> AeadBlobKeyId(std::span<const uint8_t> blob) {
  if (blob.size() < kBlobOverhead || blob[0] != kBlobFormatV1) {
    return Err(DataLossError(std::string(kOpenFailure)));
  }
  return GetU32(blob.data() + 1);
}

StatusOr<SecretBuffer> AeadOpen(const SecretBuffer& key, std::span<const uint8_t> blob,
                                std::span<const uint8_t> aad) {
  if (key.size() != kAeadKeySize) return Err(InvalidArgumentError("AEAD key must be 32 bytes"));
  if (blob.size() < kBlobOverhead || blob[0] != kBlobFormatV1 || blob.size() > INT_MAX ||
      aad.size() > INT_MAX) {
    return Err(DataLossError(std::string(kOpenFailure)));
  }
  const uint8_t* header = blob.data();
  const uint8_t* nonce = header + kHeaderSize;
  const uint8_t* ciphertext = nonce + kAeadNonceSize;
  const size_t ciphertext_size = blob.size() - kBlobOverhead;
  const uint8_t* tag = ciphertext + ciphertext_size;

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return Err(InternalError("out of memory creating cipher context"));
  // One byte more than needed so data() is never null for an empty value.
  SecretBuffer plaintext(ciphertext_size + 1);
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) != 1 ||
      !AddAad(ctx.get(), {header, kHeaderSize}, aad)) {
    return Err(DataLossError(std::string(kOpenFailure)));
  }
  if (ciphertext_size > 0 && (EVP_DecryptUpdate(ctx.get(), plaintext.data(), &len, ciphertext,
                                                static_cast<int>(ciphertext_size)) != 1 ||
                              static_cast<size_t>(len) != ciphertext_size)) {
    return Err(DataLossError(std::string(kOpenFailure)));
  }
  // OpenSSL takes a non-const pointer for the expected tag but only reads it.
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagSize),
                          const_cast<uint8_t*>(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plaintext.data() + ciphertext_size, &len) != 1) {
    // `plaintext` holds unauthenticated bytes; its destructor wipes them.
    return Err(DataLossError(std::string(kOpenFailure)));
  }
  plaintext.Truncate(ciphertext_size);
  return plaintext;
}

std::vector<uint8_t> SecretAad(std::string_view vault_id, std::string_view secret_id,
                               int64_t version) {
  static constexpr std::string_view kLabel = "coffer/secret/v1";
  // Sized up front and written in place (vector::insert trips a GCC 12 false warning).
  std::vector<uint8_t> aad(kLabel.size() + 4 + vault_id.size() + 4 + secret_id.size() + 8);
  uint8_t* p = std::copy(kLabel.begin(), kLabel.end(), aad.data());
  p = PutLengthPrefixed(p, vault_id);
  p = PutLengthPrefixed(p, secret_id);
  const uint64_t v = static_cast<uint64_t>(version);
  PutU32(p, static_cast<uint32_t>(v >> 32));
  PutU32(p + 4, static_cast<uint32_t>(v));
  return aad;
}

}  // namespace coffer
