// Shamir's secret sharing over GF(2^8), byte by byte (k of n, 2 <= k <= n <= 255), and the
// printable form of an unseal share ("cfr_share_3_…") with a check that catches a mistyped share
// and a share of another split. Field arithmetic is constant-time and table-free: no secret byte
// indexes memory.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

inline constexpr int kMaxShamirShares = 255;
// Names one split (one `coffer init`), so a share of another store is told apart.
inline constexpr size_t kSplitIdSize = 4;
using SplitId = std::array<uint8_t, kSplitIdSize>;

// Multiplication and inverse in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (0x11b, AES's field),
// in constant time. GfInverse(0) is 0.
uint8_t GfMultiply(uint8_t a, uint8_t b);
uint8_t GfInverse(uint8_t a);

// One share: the point x (1..255) and the polynomial's values there, one byte per secret byte.
struct ShamirShare {
  uint8_t x = 0;
  SecretBuffer y;
};

// Splits `secret` into `shares` shares, any `threshold` of which give it back; fewer give
// nothing (every value of the secret is equally likely). Coefficients come from `random`.
// kInvalidArgument unless 2 <= threshold <= shares <= 255 and the secret is not empty.
StatusOr<std::vector<ShamirShare>> ShamirSplit(const SecretBuffer& secret, int shares,
                                               int threshold, Random& random);

// Lagrange interpolation at 0 of `shares` (all of one length, distinct non-zero x). With fewer
// shares than the split's threshold, or a wrong one, the result is a wrong secret: the caller
// verifies it (the root key opens the keyring). kInvalidArgument for fewer than two shares, a
// repeated or zero x, or lengths that differ.
StatusOr<SecretBuffer> ShamirCombine(std::span<const ShamirShare> shares);

// A share as an operator types it: "cfr_share_<x>_<hex of split id, y and a 4-byte check>".
struct UnsealShare {
  SplitId split_id{};
  ShamirShare share;
};
inline constexpr std::string_view kUnsealSharePrefix = "cfr_share_";

// The printable form (held in a SecretBuffer: it is secret).
SecretBuffer EncodeUnsealShare(const SplitId& split_id, const ShamirShare& share);
// Parses what EncodeUnsealShare wrote (surrounding whitespace allowed; hex in any case).
// kInvalidArgument saying what is wrong — never repeating the text — when the form or the
// check is wrong (a mistyped or truncated share).
StatusOr<UnsealShare> ParseUnsealShare(std::string_view text);

}  // namespace coffer
