// DatabaseClock: a Clock that follows the database server's clock instead of this machine's, so
// several Coffer servers with skewed clocks agree on every time rule (expiry, policy expiry, JWT
// lifetimes, audit times). It reads the database's time now and then and, in between, adds the
// time elapsed on this machine's monotonic clock, so Now() costs no round trip and is immune to
// this machine's wall clock being stepped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace coffer {

class DatabaseClock final : public Clock {
 public:
  // Reads the database's time (Unix microseconds), e.g. PostgresStore::DatabaseNow.
  using Source = std::function<StatusOr<UnixMicros>()>;

  // Takes a first reading (the error if it fails) and starts a thread that takes another every
  // `refresh`. A failed refresh keeps the last good reading, extrapolated on `local`, which
  // must outlive the clock.
  static StatusOr<std::unique_ptr<DatabaseClock>> Start(
      Source source, std::chrono::milliseconds refresh,
      const MonotonicClock& local = DefaultMonotonicClock());
  ~DatabaseClock() override;  // stops the refresh thread

  // The database's time now, as of the last reading plus the monotonic time since. Thread-safe.
  UnixMicros Now() const override;

  // Takes a reading now. Thread-safe.
  Status Refresh();

 private:
  struct Reading {
    UnixMicros database = 0;  // the database's time …
    MonotonicTime local{};    // … at this monotonic instant
  };

  DatabaseClock(Source source, std::chrono::milliseconds refresh, const MonotonicClock& local)
      : source_(std::move(source)), refresh_(refresh), local_(local) {}
  void RefreshLoop();

  const Source source_;
  const std::chrono::milliseconds refresh_;
  const MonotonicClock& local_;

  mutable Mutex mu_;
  Reading reading_ COFFER_GUARDED_BY(mu_);
  bool stopping_ COFFER_GUARDED_BY(mu_) = false;
  CondVar cv_;  // wakes the refresh thread to stop
  std::thread thread_;
};

}  // namespace coffer
