// Generated secret values: characters drawn uniformly from a charset by rejection sampling over
// random bytes, read from the random source in batches.
#include "crypto/value_generator.h"

#include <algorithm>

namespace coffer {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kAlphanumeric =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kAscii =
    "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
    "abcdefghijklmnopqrstuvwxyz{|}~";
static_assert(kAscii.size() == 94);

}  // namespace

std::optional<Charset> ParseCharset(std::string_view name) {
  if (name == "hex") return Charset::kHex;
  if (name == "base64") return Charset::kBase64;
  if (name == "alphanumeric") return Charset::kAlphanumeric;
  if (name == "ascii") return Charset::kAscii;
  return std::nullopt;
}

std::string_view CharsetAlphabet(Charset charset) {
  switch (charset) {
    case Charset::kHex:
      return kHex;
    case Charset::kBase64:
      return kBase64;
    case Charset::kAlphanumeric:
      return kAlphanumeric;
    case Charset::kAscii:
      return kAscii;
  }
  return kHex;
}

StatusOr<SecretBuffer> GenerateValue(Charset charset, size_t length, Random& random) {
  if (length < kMinGeneratedLength || length > kMaxGeneratedLength) {
    return Err(InvalidArgumentError("length must be between 8 and 1024"));
  }
  const std::string_view alphabet = CharsetAlphabet(charset);
  const size_t n = alphabet.size();
  // The largest multiple of n that fits in a byte: bytes at or above it are rejected, so each
  // accepted byte maps onto the alphabet with equal probability.
  const size_t limit = 256 - 256 % n;
  // Enough bytes for the expected number of draws plus a margin; refilled if rejections run
  // unusually long.
  const size_t expected = length * 256 / limit + 1;
  SecretBuffer pool(std::min<size_t>(expected + expected / 8 + 16, 2048));
  size_t used = pool.size();
  SecretBuffer value(length);
  for (size_t i = 0; i < length;) {
    if (used == pool.size()) {
      RETURN_IF_ERROR(random.Fill({pool.data(), pool.size()}));
      used = 0;
    }
    const uint8_t b = pool.data()[used++];
    if (b < limit) value.data()[i++] = static_cast<uint8_t>(alphabet[b % n]);
  }
  return value;
}

}  // namespace coffer
