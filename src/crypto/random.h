// Random: the injectable source of randomness for keys, nonces, tokens and generated values.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/status.h"

namespace coffer {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with random bytes. kInternal if the source fails. Thread-safe.
  virtual Status Fill(std::span<uint8_t> out) = 0;
};

// The operating system's CSPRNG through OpenSSL's RAND_bytes. Thread-safe.
class SystemRandom final : public Random {
 public:
  Status Fill(std::span<uint8_t> out) override;
};

// A reproducible, NOT cryptographic stream for tests (fixed seed). Thread-safe.
std::unique_ptr<Random> NewDeterministicRandom(uint64_t seed);

}  // namespace coffer
