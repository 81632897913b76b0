// The embedded SQLite backend of Store: one database file in WAL mode, one writer thread that
// group-commits every write, and a pool of read-only connections so reads never wait for writes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/monotonic_clock.h"
#include "common/random.h"
#include "common/status.h"
#include "store/migration_step.h"
#include "store/store.h"

namespace coffer {

struct SqliteStoreOptions {
  std::string path;            // the database file; created (mode 0600) if missing
  int reader_connections = 8;  // read-only connections, i.e. reads that can run at once
  size_t max_batch = 512;      // most write operations committed by one transaction
  // Longest time a stand-alone audit event stays in the WAL without an fsync.
  std::chrono::milliseconds audit_sync_interval{20};
  // Told what a schema migration changed besides the schema (e.g. vaults it renamed), once it
  // has committed, so the operator's log says so. May be empty.
  MigrationNotice on_migration_notice = {};
  // Measures audit_sync_interval. Must outlive the store.
  const MonotonicClock* clock = &DefaultMonotonicClock();
  // Draws the ids of new secrets. Must outlive the store.
  Random* random = &DefaultRandom();
};

// Counters of the group-commit writer since the store was opened.
struct SqliteStoreStats {
  uint64_t write_ops = 0;  // write operations run, committed or not
  uint64_t commits = 0;    // transactions committed
  uint64_t syncs = 0;      // WAL fsyncs (durable commits and interval syncs)
  // Interval syncs that failed: stand-alone audit events answered since the last good sync may
  // not survive a power loss. After one, every commit is synced until a sync succeeds.
  uint64_t sync_failures = 0;
  uint64_t largest_batch = 0;  // most write operations taken in one batch
  uint64_t pending_ops = 0;    // write operations queued right now, waiting for the writer
};

// Store over SQLite. Every Store method is thread-safe. A write is queued to the writer thread
// and returns once the transaction holding it is committed with synchronous=FULL, except an
// AppendAudit event standing alone (a request that changed nothing): it is committed to the WAL
// before the call returns and fsynced within `audit_sync_interval` (or by the next durable
// commit), so a killed process loses none and only a power loss can lose that window. Note that a
// PutSecretVersion `seal` function runs on the writer thread, inside the batch's transaction:
// it must be quick and must not call back into the store. The writer keeps the audit chain's last
// seq and hash in memory, so an audit event costs one INSERT; a rolled-back batch drops that
// cache, and a seq already taken (by another process on the same file) makes it re-read.
class SqliteStore : public Store {
 public:
  // Opens `options.path`, creating the file if missing, and applies pending schema migrations.
  // Errors: kInvalidArgument for bad options; kFailedPrecondition when the directory does not
  // exist, when other users could read or change the database or its -wal/-shm files (any group
  // or other bit) or write to its directory (common/file_mode.h), or when the database has a
  // schema newer than this binary knows; kUnavailable when the file
  // cannot be opened or locked; kDataLoss when it is not a (sound) SQLite database.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);

  // Thread-safe.
  virtual SqliteStoreStats Stats() const = 0;
};

// SqliteStore::Open for callers that only need the Store interface.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

}  // namespace coffer
