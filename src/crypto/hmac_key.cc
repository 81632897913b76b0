// HmacSha256Key: RFC 2104 with the pad blocks absorbed once into saved SHA-256 states.
#include "crypto/hmac_key.h"

#include <openssl/evp.h>

#include <array>
#include <cstdlib>

#include "common/secret_buffer.h"

namespace coffer {

namespace {

constexpr size_t kBlock = 64;  // SHA-256's block size
constexpr size_t kDigest = 32;

const EVP_MD* Sha256Md() {
  // Fetched once: an implicit fetch on every init is most of a short MAC's cost in OpenSSL 3.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();
  return md;
}

EVP_MD_CTX* StateAfter(const std::array<uint8_t, kBlock>& block) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, block.data(), block.size()) != 1) {
    std::abort();
  }
  return ctx;
}

// Per thread: the scratch state each MAC copies a saved state into.
EVP_MD_CTX* Scratch() {
  thread_local struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  } holder;
  if (holder.ctx == nullptr) std::abort();
  return holder.ctx;
}

}  // namespace

HmacSha256Key::HmacSha256Key(const SecretBuffer& key) {
  std::array<uint8_t, kBlock> k{};
  if (key.size() > kBlock) {
    unsigned int len = 0;
    if (EVP_Digest(key.data(), key.size(), k.data(), &len, Sha256Md(), nullptr) != 1) {
      std::abort();
    }
  } else if (!key.empty()) {
    std::copy(key.data(), key.data() + key.size(), k.begin());
  }
  std::array<uint8_t, kBlock> pad{};
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  inner_ = StateAfter(pad);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  outer_ = StateAfter(pad);
  SecureWipe(k.data(), k.size());
  SecureWipe(pad.data(), pad.size());
}

HmacSha256Key::~HmacSha256Key() {
  EVP_MD_CTX_free(inner_);  // EVP_MD_CTX_free cleanses the state
  EVP_MD_CTX_free(outer_);
}

std::vector<uint8_t> HmacSha256Key::Mac(std::string_view data) const {
  EVP_MD_CTX* ctx = Scratch();
  std::vector<uint8_t> mac(kDigest);
  std::array<uint8_t, kDigest> inner_digest{};
  unsigned int len = 0;
  const bool ok = EVP_MD_CTX_copy_ex(ctx, inner_) == 1 &&
                  EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, inner_digest.data(), &len) == 1 && len == kDigest &&
                  EVP_MD_CTX_copy_ex(ctx, outer_) == 1 &&
                  EVP_DigestUpdate(ctx, inner_digest.data(), inner_digest.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, mac.data(), &len) == 1 && len == kDigest;
  if (!ok) std::abort();
  return mac;
}

}  // namespace coffer
