// A fixed pool of read-only SQLite connections. In WAL mode a reader sees the last committed
// state and never waits for the writer, so reads scale with the pool size, not with writes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "store/sqlite/sqlite_connection.h"

namespace coffer {

class SqliteReaderPool {
 public:
  // Exclusive use of one connection until destroyed. REQUIRES: destroyed before the pool, and
  // every statement prepared on it destroyed before the lease.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), db_(other.db_) {
      other.pool_ = nullptr;
      other.db_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    SqliteConnection* operator->() const { return db_; }
    SqliteConnection& operator*() const { return *db_; }

   private:
    friend class SqliteReaderPool;
    Lease(SqliteReaderPool* pool, SqliteConnection* db) : pool_(pool), db_(db) {}
    SqliteReaderPool* pool_;
    SqliteConnection* db_;
  };

  // Opens `size` read-only connections to `path`. REQUIRES: the database exists, in WAL mode.
  static StatusOr<std::unique_ptr<SqliteReaderPool>> Open(const std::string& path, int size,
                                                          int busy_timeout_ms);

  // A free connection, waiting for one if all are leased. Thread-safe.
  Lease Acquire();

 private:
  SqliteReaderPool() = default;
  void Release(SqliteConnection* db);

  std::vector<std::unique_ptr<SqliteConnection>> connections_;  // fixed after Open

  Mutex mu_;
  CondVar free_cv_;  // signalled when a connection returns to free_
  std::vector<SqliteConnection*> free_ COFFER_GUARDED_BY(mu_);
};

}  // namespace coffer
