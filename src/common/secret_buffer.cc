// Wiping and constant-time comparison for secret bytes.
#include "common/secret_buffer.h"

#include <openssl/crypto.h>

namespace coffer {

void SecureWipe(void* data, size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

void SecretBuffer::Wipe() {
  SecureWipe(bytes_.data(), bytes_.size());
  bytes_.clear();
}

void SecretBuffer::Truncate(size_t n) {
  if (n >= bytes_.size()) return;
  SecureWipe(bytes_.data() + n, bytes_.size() - n);
  bytes_.resize(n);
}

bool SecretBuffer::Equals(std::span<const uint8_t> other) const {
  return ConstantTimeEquals(span(), other);
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace coffer
