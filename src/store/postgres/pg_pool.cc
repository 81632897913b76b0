// PgPool: idle connections on a stack (the most recently used first, so its cache is warm),
// new ones opened outside the lock.
#include "store/postgres/pg_pool.h"

namespace coffer {

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_ != nullptr) {
    pool_->Release(std::move(conn_));
  }
}

StatusOr<PgPool::Lease> PgPool::Acquire() {
  {
    MutexLock lock(mu_);
    const bool ready = clock_.WaitFor(mu_, free_cv_, wait_, [&]() COFFER_REQUIRES(mu_) {
      return !idle_.empty() || open_ < size_;
    });
    if (!ready) {
      return Err(UnavailableError("store: no PostgreSQL connection became free in time (pool of " +
                                  std::to_string(size_) + ")"));
    }
    if (!idle_.empty()) {
      std::unique_ptr<PgConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserve the slot while connecting
  }
  auto conn = PgConnection::Connect(conninfo_);
  if (!conn.has_value()) {
    MutexLock lock(mu_);
    --open_;
    free_cv_.NotifyOne();
    return Err(conn.error());
  }
  return Lease(this, std::move(conn).value());
}

void PgPool::DropIdle() {
  std::vector<std::unique_ptr<PgConnection>> dropped;
  {
    MutexLock lock(mu_);
    dropped.swap(idle_);
    open_ -= static_cast<int>(dropped.size());
  }
  free_cv_.NotifyAll();
}  // closed here, outside the lock

int PgPool::open() const {
  MutexLock lock(mu_);
  return open_;
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  // A connection left inside a transaction (a bug or a failed ROLLBACK) or broken is not reused.
  const bool reusable = conn->healthy() && !conn->InTransaction();
  if (!reusable) {
    conn.reset();
  }
  MutexLock lock(mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  free_cv_.NotifyOne();
}

}  // namespace coffer
