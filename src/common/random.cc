// Random sources: the OS CSPRNG through OpenSSL, and a seeded, reproducible stream for tests.
// Only SystemRandom may produce keys, nonces or tokens in production.
#include "common/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/mutex.h"

namespace coffer {

Status SystemRandom::Fill(std::span<uint8_t> out) {
  while (!out.empty()) {
    const size_t n = std::min<size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
      return InternalError("the system random source failed");
    }
    out = out.subspan(n);
  }
  return OkStatus();
}

Random& DefaultRandom() {
  static SystemRandom random;
  return random;
}

Status DeterministicRandom::Fill(std::span<uint8_t> out) {
  MutexLock lock(mu_);
  size_t pos = 0;
  while (pos < out.size()) {
    const uint64_t word = Next();
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(word >> (8 * i));
    const size_t n = std::min<size_t>(8, out.size() - pos);
    std::memcpy(out.data() + pos, bytes, n);
    pos += n;
  }
  return OkStatus();
}

// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator with good statistical quality, enough
// for reproducible tests; it is trivially predictable and must never seed anything secret.
uint64_t DeterministicRandom::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::unique_ptr<Random> NewDeterministicRandom(uint64_t seed) {
  return std::make_unique<DeterministicRandom>(seed);
}

}  // namespace coffer
