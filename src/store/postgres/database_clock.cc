// DatabaseClock: readings taken at the midpoint of the round trip, extrapolated monotonically.
#include "store/postgres/database_clock.h"

namespace coffer {

StatusOr<std::unique_ptr<DatabaseClock>> DatabaseClock::Start(Source source,
                                                              std::chrono::milliseconds refresh,
                                                              const MonotonicClock& local) {
  std::unique_ptr<DatabaseClock> clock(new DatabaseClock(std::move(source), refresh, local));
  RETURN_IF_ERROR(clock->Refresh());
  clock->thread_ = std::thread([c = clock.get()] { c->RefreshLoop(); });
  return clock;
}

DatabaseClock::~DatabaseClock() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

UnixMicros DatabaseClock::Now() const {
  Reading r;
  {
    MutexLock lock(mu_);
    r = reading_;
  }
  const auto elapsed = local_.Now() - r.local;
  return r.database + std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
}

Status DatabaseClock::Refresh() {
  const MonotonicTime before = local_.Now();
  ASSIGN_OR_RETURN(const UnixMicros database, source_());
  const MonotonicTime after = local_.Now();
  // The database read its clock somewhere in the round trip; the midpoint errs by at most half
  // of it (well under a millisecond on a LAN).
  const Reading r{database, before + (after - before) / 2};
  MutexLock lock(mu_);
  reading_ = r;
  return OkStatus();
}

void DatabaseClock::RefreshLoop() {
  MutexLock lock(mu_);
  while (!stopping_) {
    local_.WaitFor(mu_, cv_, refresh_, [&]() COFFER_REQUIRES(mu_) { return stopping_; });
    if (stopping_) {
      break;
    }
    lock.Unlock();
    (void)Refresh();  // on failure the last reading stays, extrapolated
    lock.Lock();
  }
}

}  // namespace coffer
