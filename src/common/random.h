// Random: the injectable source of randomness for keys, nonces, tokens, generated values and
// identifiers. Code that needs random bytes takes a Random&, so a test can hand it a seeded one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/mutex.h"
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

// The SystemRandom every production default refers to. It holds no state.
Random& DefaultRandom();

// A reproducible, NOT cryptographic stream for tests: the same seed gives the same bytes.
// Thread-safe.
class DeterministicRandom final : public Random {
 public:
  explicit DeterministicRandom(uint64_t seed) : state_(seed) {}
  Status Fill(std::span<uint8_t> out) override;

 private:
  uint64_t Next() COFFER_REQUIRES(mu_);

  Mutex mu_;
  uint64_t state_ COFFER_GUARDED_BY(mu_);
};

// A source whose every Fill fails, for tests of what a caller does when the system's random
// source does.
class FailingRandom final : public Random {
 public:
  Status Fill(std::span<uint8_t>) override { return InternalError("no entropy"); }
};

// A DeterministicRandom seeded with `seed`.
std::unique_ptr<Random> NewDeterministicRandom(uint64_t seed);

}  // namespace coffer
