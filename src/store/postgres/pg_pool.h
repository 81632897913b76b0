// A pool of PostgreSQL connections, opened on demand up to a fixed size, so concurrent requests
// run on concurrent connections and no request opens one of its own. Broken connections are
// dropped when returned and replaced by the next Acquire.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/postgres/pg_connection.h"

namespace coffer {

class PgPool {
 public:
  // Exclusive use of one connection until destroyed. REQUIRES: destroyed before the pool.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection* operator->() const { return conn_.get(); }
    PgConnection& operator*() const { return *conn_; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // `size` >= 1 connections at most; `wait` is how long Acquire waits for a free one, on
  // `clock` (which must outlive the pool).
  PgPool(std::string conninfo, int size, std::chrono::milliseconds wait,
         const MonotonicClock& clock = DefaultMonotonicClock())
      : conninfo_(std::move(conninfo)), size_(size), wait_(wait), clock_(clock) {}

  // A free connection, or a new one while fewer than `size` exist, else waits. kUnavailable
  // when none frees up in time or a new one cannot connect. Thread-safe.
  StatusOr<Lease> Acquire();

  // Closes every idle connection: after one was found lost (a server restart or failover
  // closes them all), so the next Acquire connects afresh. Thread-safe.
  void DropIdle();

  // Connections open right now (leased or idle). Thread-safe.
  int open() const;

 private:
  void Release(std::unique_ptr<PgConnection> conn);

  const std::string conninfo_;
  const int size_;
  const std::chrono::milliseconds wait_;
  const MonotonicClock& clock_;

  mutable Mutex mu_;
  CondVar free_cv_;  // a connection came back, or a slot opened
  std::vector<std::unique_ptr<PgConnection>> idle_ COFFER_GUARDED_BY(mu_);
  int open_ COFFER_GUARDED_BY(mu_) = 0;  // leased + idle + connecting
};

}  // namespace coffer
