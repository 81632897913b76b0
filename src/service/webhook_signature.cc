// Standard Webhooks signing: base64 with OpenSSL's EVP encoder and HMAC-SHA256 with the same
// primitive the credentials use (crypto/api_token.h).
#include "service/webhook_signature.h"

#include <openssl/evp.h>

#include <vector>

#include "crypto/api_token.h"

namespace coffer {

namespace {

std::string Base64(const uint8_t* data, size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

std::string EncodeWebhookSecret(const SecretBuffer& key) {
  return "whsec_" + Base64(key.data(), key.size());
}

StatusOr<SecretBuffer> DecodeWebhookSecret(std::string_view secret) {
  if (secret.starts_with("whsec_")) secret.remove_prefix(6);
  if (secret.empty() || secret.size() % 4 != 0) {
    return Err(InvalidArgumentError("a webhook secret is whsec_ followed by base64"));
  }
  SecretBuffer out(secret.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(secret.data()),
                                static_cast<int>(secret.size()));
  if (n < 0) return Err(InvalidArgumentError("a webhook secret is whsec_ followed by base64"));
  size_t size = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (secret.ends_with("==")) {
    size -= 2;
  } else if (secret.ends_with("=")) {
    size -= 1;
  }
  return SecretBuffer(out.data(), size);
}

std::string SignWebhook(const SecretBuffer& key, std::string_view message_id, int64_t timestamp,
                        std::string_view body) {
  std::string signed_content;
  signed_content.reserve(message_id.size() + body.size() + 24);
  signed_content.append(message_id);
  signed_content += '.';
  signed_content += std::to_string(timestamp);
  signed_content += '.';
  signed_content.append(body);
  const std::vector<uint8_t> mac = HmacSecret(key, signed_content);
  return "v1," + Base64(mac.data(), mac.size());
}

}  // namespace coffer
