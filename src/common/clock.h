// Clock: the one way Coffer code learns the time, injected so tests can control it.
#pragma once

#include <atomic>
#include <cstdint>

namespace coffer {

// Unix time in microseconds, the unit of every timestamp Coffer stores.
using UnixMicros = int64_t;

constexpr UnixMicros kMicrosPerSecond = 1'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time. Thread-safe.
  virtual UnixMicros Now() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  UnixMicros Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixMicros start) : now_(start) {}
  UnixMicros Now() const override { return now_.load(); }
  void Advance(UnixMicros delta) { now_ += delta; }
  void Set(UnixMicros t) { now_ = t; }

 private:
  std::atomic<UnixMicros> now_;
};

}  // namespace coffer
