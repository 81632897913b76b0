// SqliteReaderPool: lease-based access to the read-only connections.
#include "store/sqlite/sqlite_reader_pool.h"

namespace coffer {

SqliteReaderPool::Lease::~Lease() {
  if (pool_ != nullptr) {
    pool_->Release(db_);
  }
}

StatusOr<std::unique_ptr<SqliteReaderPool>> SqliteReaderPool::Open(const std::string& path,
                                                                   int size, int busy_timeout_ms) {
  std::unique_ptr<SqliteReaderPool> pool(new SqliteReaderPool());
  MutexLock lock(pool->mu_);  // for the analysis only: no other thread sees `pool` yet
  for (int i = 0; i < size; ++i) {
    ASSIGN_OR_RETURN(
        auto db, SqliteConnection::Open(path, SqliteConnection::Mode::kReadOnly, busy_timeout_ms));
    pool->free_.push_back(db.get());
    pool->connections_.push_back(std::move(db));
  }
  return pool;
}

SqliteReaderPool::Lease SqliteReaderPool::Acquire() {
  MutexLock lock(mu_);
  while (free_.empty()) {
    free_cv_.Wait(mu_);
  }
  SqliteConnection* db = free_.back();
  free_.pop_back();
  return Lease(this, db);
}

void SqliteReaderPool::Release(SqliteConnection* db) {
  {
    MutexLock lock(mu_);
    free_.push_back(db);
  }
  free_cv_.NotifyOne();
}

}  // namespace coffer
