// Shamir's secret sharing over GF(2^8) with constant-time, table-free field arithmetic, and the
// printable unseal share with its check (a truncated SHA-256 over the split id, x and y).
#include "crypto/shamir.h"

#include <fmt/format.h>

#include <cstring>
#include <string>

#include "common/sha256.h"

namespace coffer {
namespace {

constexpr size_t kCheckSize = 4;
constexpr std::string_view kCheckLabel = "coffer-unseal-share-v1";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<uint8_t, kCheckSize> ShareCheck(const SplitId& split_id, uint8_t x,
                                           std::span<const uint8_t> y) {
  const uint8_t xs[1] = {x};
  const Sha256Digest digest =
      Sha256({{reinterpret_cast<const uint8_t*>(kCheckLabel.data()), kCheckLabel.size()},
              split_id,
              xs,
              y});
  std::array<uint8_t, kCheckSize> check{};
  std::memcpy(check.data(), digest.data(), kCheckSize);
  return check;
}

// Constant-time equality of two short byte strings of one length.
bool SameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

uint8_t GfMultiply(uint8_t a, uint8_t b) {
  uint8_t product = 0;
  uint8_t aa = a;
  for (int bit = 0; bit < 8; ++bit) {
    // Masks instead of branches: every step does the same work whatever the bits are.
    const auto take = static_cast<uint8_t>(-((b >> bit) & 1));
    product ^= static_cast<uint8_t>(aa & take);
    const auto carry = static_cast<uint8_t>(-((aa >> 7) & 1));
    aa = static_cast<uint8_t>((aa << 1) ^ (0x1b & carry));
  }
  return product;
}

uint8_t GfInverse(uint8_t a) {
  // a^254 = a^-1 (a^255 = 1 for a != 0), by a fixed chain of squarings and multiplications.
  uint8_t result = 1;
  uint8_t power = a;
  for (int bit = 1; bit < 8; ++bit) {  // 254 = 0b11111110
    power = GfMultiply(power, power);
    result = GfMultiply(result, power);
  }
  return result;
}

StatusOr<std::vector<ShamirShare>> ShamirSplit(const SecretBuffer& secret, int shares,
                                               int threshold, Random& random) {
  if (threshold < 2 || shares < threshold || shares > kMaxShamirShares) {
    return Err(InvalidArgumentError(fmt::format(
        "shares and threshold must satisfy 2 <= threshold <= shares <= {} (got {} of {})",
        kMaxShamirShares, threshold, shares)));
  }
  if (secret.empty()) return Err(InvalidArgumentError("nothing to split"));
  const size_t size = secret.size();
  const auto degree = static_cast<size_t>(threshold - 1);
  // Coefficients 1..k-1 of each byte's polynomial; coefficient 0 is the secret byte.
  SecretBuffer coefficients(degree * size);
  RETURN_IF_ERROR(random.Fill({coefficients.data(), coefficients.size()}));
  std::vector<ShamirShare> out;
  out.reserve(static_cast<size_t>(shares));
  for (int i = 1; i <= shares; ++i) {
    ShamirShare share{.x = static_cast<uint8_t>(i), .y = SecretBuffer(size)};
    for (size_t byte = 0; byte < size; ++byte) {
      // Horner: ((a_{k-1} x + a_{k-2}) x + …) x + a_0.
      uint8_t value = 0;
      for (size_t c = degree; c >= 1; --c) {
        value = static_cast<uint8_t>(GfMultiply(value, share.x) ^
                                     coefficients.data()[(c - 1) * size + byte]);
      }
      share.y.data()[byte] = static_cast<uint8_t>(GfMultiply(value, share.x) ^ secret.data()[byte]);
    }
    out.push_back(std::move(share));
  }
  return out;
}

StatusOr<SecretBuffer> ShamirCombine(std::span<const ShamirShare> shares) {
  if (shares.size() < 2) return Err(InvalidArgumentError("at least two shares are needed"));
  const size_t size = shares.front().y.size();
  for (size_t i = 0; i < shares.size(); ++i) {
    if (shares[i].x == 0) return Err(InvalidArgumentError("a share has index 0"));
    if (shares[i].y.size() != size || size == 0) {
      return Err(InvalidArgumentError("the shares are of different lengths"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (shares[i].x == shares[j].x) {
        return Err(InvalidArgumentError(fmt::format("share {} is given twice", shares[i].x)));
      }
    }
  }
  SecretBuffer secret(size);
  for (size_t i = 0; i < shares.size(); ++i) {
    // L_i(0) = prod_{j != i} x_j / (x_i + x_j): public (the x are), so ordinary code.
    uint8_t numerator = 1;
    uint8_t denominator = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      numerator = GfMultiply(numerator, shares[j].x);
      denominator = GfMultiply(denominator, static_cast<uint8_t>(shares[i].x ^ shares[j].x));
    }
    const uint8_t basis = GfMultiply(numerator, GfInverse(denominator));
    for (size_t byte = 0; byte < size; ++byte) {
      secret.data()[byte] ^= GfMultiply(shares[i].y.data()[byte], basis);
    }
  }
  return secret;
}

SecretBuffer EncodeUnsealShare(const SplitId& split_id, const ShamirShare& share) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::array<uint8_t, kCheckSize> check = ShareCheck(split_id, share.x, share.y.span());
  const std::string head = fmt::format("{}{}_", kUnsealSharePrefix, share.x);
  SecretBuffer out(head.size() + 2 * (kSplitIdSize + share.y.size() + kCheckSize));
  std::memcpy(out.data(), head.data(), head.size());
  size_t at = head.size();
  auto put = [&](std::span<const uint8_t> bytes) {
    for (const uint8_t b : bytes) {
      out.data()[at++] = static_cast<uint8_t>(kHex[b >> 4]);
      out.data()[at++] = static_cast<uint8_t>(kHex[b & 0x0f]);
    }
  };
  put(split_id);
  put(share.y.span());
  put(check);
  return out;
}

StatusOr<UnsealShare> ParseUnsealShare(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                           text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  const auto malformed = [] {
    return Err(InvalidArgumentError(
        "not an unseal share: a share reads cfr_share_<index>_<hexadecimal digits>"));
  };
  if (!text.starts_with(kUnsealSharePrefix)) return malformed();
  text.remove_prefix(kUnsealSharePrefix.size());
  const size_t underscore = text.find('_');
  if (underscore == std::string_view::npos || underscore == 0 || underscore > 3) {
    return malformed();
  }
  int x = 0;
  for (const char c : text.substr(0, underscore)) {
    if (c < '0' || c > '9') return malformed();
    x = x * 10 + (c - '0');
  }
  if (x < 1 || x > kMaxShamirShares) return malformed();
  const std::string_view hex = text.substr(underscore + 1);
  if (hex.size() % 2 != 0 || hex.size() < 2 * (kSplitIdSize + 1 + kCheckSize)) {
    return Err(InvalidArgumentError("the unseal share is truncated or has extra characters"));
  }
  SecretBuffer bytes(hex.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return malformed();
    bytes.data()[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  UnsealShare out;
  std::memcpy(out.split_id.data(), bytes.data(), kSplitIdSize);
  out.share.x = static_cast<uint8_t>(x);
  const size_t y_size = bytes.size() - kSplitIdSize - kCheckSize;
  out.share.y = SecretBuffer(bytes.data() + kSplitIdSize, y_size);
  const std::array<uint8_t, kCheckSize> check =
      ShareCheck(out.split_id, out.share.x, out.share.y.span());
  if (!SameBytes(check, bytes.span().subspan(kSplitIdSize + y_size))) {
    return Err(InvalidArgumentError(
        "the unseal share's check does not match: it was mistyped or truncated"));
  }
  return out;
}

}  // namespace coffer
