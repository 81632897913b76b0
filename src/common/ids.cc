// UUIDv4 generation from an injected random source, and validation.
#include "common/ids.h"

#include <array>
#include <cstdint>
#include <cstdlib>

namespace coffer {

namespace {

std::array<uint8_t, 16> RandomBytes(Random& random) {
  std::array<uint8_t, 16> b{};
  if (!random.Fill(b).ok()) {
    // Without randomness no identifier (or key) is safe to hand out.
    std::abort();
  }
  return b;
}

std::string Canonical(const std::array<uint8_t, 16>& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

}  // namespace

std::string NewUuid(Random& random) {
  std::array<uint8_t, 16> b = RandomBytes(random);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return Canonical(b);
}

std::string NewUuidV7(Random& random, int64_t unix_micros) {
  std::array<uint8_t, 16> b = RandomBytes(random);
  const auto millis = static_cast<uint64_t>(std::max<int64_t>(unix_micros, 0) / 1000);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(millis >> (8 * (5 - i)));
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
  return Canonical(b);
}

std::string NewUuid() { return NewUuid(DefaultRandom()); }

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace coffer
