// HmacSha256Key: HMAC-SHA256 under one fixed key with the key's inner and outer pad blocks
// absorbed once, so each MAC costs two SHA-256 passes over the message and the inner digest
// instead of four plus OpenSSL's per-call setup. Used for the credential pepper, checked on every
// request.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/secret_buffer.h"

namespace coffer {

class HmacSha256Key {
 public:
  // REQUIRES: nothing; any key length (longer than a block is hashed first, as RFC 2104 says).
  explicit HmacSha256Key(const SecretBuffer& key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // HMAC-SHA256(key, data), 32 bytes; equal to HmacSecret(key, data). Thread-safe (the
  // precomputed states are only read). Aborts only if OpenSSL cannot allocate.
  std::vector<uint8_t> Mac(std::string_view data) const;

 private:
  EVP_MD_CTX* inner_ = nullptr;  // SHA-256 state after (key ^ ipad)
  EVP_MD_CTX* outer_ = nullptr;  // SHA-256 state after (key ^ opad)
};

}  // namespace coffer
