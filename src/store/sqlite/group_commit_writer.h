// GroupCommitWriter: owns the one read-write SQLite connection and a thread that runs every write.
// Callers queue an operation and block; the thread runs up to max_batch queued operations in one
// transaction (a SAVEPOINT each) and commits them with a single fsync. Operations that only need
// to be written (audit events of requests that changed nothing) share commits without an fsync
// of their own; the WAL holding them is fsynced by the next durable commit or within
// `sync_interval`, whichever comes first.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "store/sqlite/sqlite_connection.h"

namespace coffer {

// A write operation: runs statements on the writer connection inside the batch's transaction.
// Returning non-OK rolls back everything it did (and only that).
// REQUIRES: it does not open, commit or roll back transactions, and does not call
// GroupCommitWriter::Run (that would deadlock).
using WriteOp = std::function<Status(SqliteConnection& db)>;

// Called on the writer thread right after a batch's transaction was rolled back as a whole: a
// failed COMMIT, a failed SAVEPOINT or RELEASE, SQLite ending the transaction by itself, or a
// batch in which every operation failed. State kept beside the database (a cached row) must then
// be dropped, since every change since the batch began is gone. Not called for one operation's
// own rollback to its SAVEPOINT: the operation knows of that from its own return value.
// REQUIRES: it does not call GroupCommitWriter::Run and does not throw.
using RollbackListener = std::function<void()>;

// What "done" means for an operation when Run() returns OK.
enum class Durability {
  // Committed and fsynced: survives a power loss.
  kSynced,
  // Committed to the WAL (in the OS, so it survives the process being killed) and fsynced
  // within the writer's sync interval or by the next kSynced commit, whichever is first.
  // After a failed sync, until one succeeds, it is committed as kSynced.
  kWritten,
};

struct GroupCommitStats {
  uint64_t ops = 0;            // operations run (committed or not)
  uint64_t commits = 0;        // transactions committed
  uint64_t syncs = 0;          // WAL fsyncs: synced commits plus interval syncs
  uint64_t sync_failures = 0;  // interval syncs that failed (kWritten commits not yet on disk)
  uint64_t largest_batch = 0;  // most operations taken in one batch
  uint64_t pending = 0;        // operations queued right now, not yet taken by the writer
};

class GroupCommitWriter {
 public:
  // Starts the writer thread. kInternal if it cannot be started. `on_rollback` may be empty.
  // `clock` measures the sync interval and must outlive the writer.
  // REQUIRES: `db` is a read-write connection in WAL mode with no transaction open;
  // max_batch >= 1.
  static StatusOr<std::unique_ptr<GroupCommitWriter>> Start(
      std::unique_ptr<SqliteConnection> db, size_t max_batch, RollbackListener on_rollback = {},
      std::chrono::milliseconds sync_interval = kDefaultSyncInterval,
      const MonotonicClock& clock = DefaultMonotonicClock());

  // How long a kWritten commit may stay without an fsync.
  static constexpr std::chrono::milliseconds kDefaultSyncInterval{20};

  // Runs every operation still queued, stops the thread, checkpoints the WAL into the database
  // file and closes the connection.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Queues `op` and blocks until its batch is over. OK means its changes are committed with
  // the given durability. Otherwise: the op's own error (its changes rolled back, the batch
  // unaffected), or kUnavailable when the batch's transaction could not be begun or committed
  // (nothing of the op was kept). Inside a NonBlockingScope it does not wait: it notes the refusal
  // and returns kUnavailable at once, having queued nothing. Thread-safe.
  Status Run(const WriteOp& op, Durability durability = Durability::kSynced);

  // Queues `op` and returns at once; `done` gets what Run would have returned, once the op's
  // batch is over. `done` runs on the writer thread (or, when the writer is closing, on the
  // caller's, before RunAsync returns), so it must be quick, must not throw, and must not call
  // Run. Thread-safe.
  void RunAsync(WriteOp op, Durability durability, std::function<void(Status)> done);

  // Thread-safe.
  GroupCommitStats Stats() const;

 private:
  struct Pending {
    const WriteOp* op;
    Durability durability;
    Status result;
    bool done = false;  // guarded by the writer's mu_ (unchecked: no annotation here can name it)
    // Set for RunAsync: the Pending is heap-allocated, owns its op, and is finished by calling
    // `on_done` and deleting it instead of by waking a waiter.
    WriteOp owned_op{};
    std::function<void(Status)> on_done{};
  };

  GroupCommitWriter(std::unique_ptr<SqliteConnection> db, size_t max_batch,
                    RollbackListener on_rollback, std::chrono::milliseconds sync_interval,
                    const MonotonicClock& clock)
      : db_(std::move(db)),
        max_batch_(max_batch),
        on_rollback_(std::move(on_rollback)),
        sync_interval_(sync_interval),
        clock_(clock) {}
  void Loop();
  // Runs `batch` on db_ and sets each result. Returns the number of COMMITs done. Writer thread.
  uint64_t RunBatch(const std::vector<Pending*>& batch, bool synced);
  // Sets PRAGMA synchronous to FULL or NORMAL unless it already is. Writer thread.
  Status SetSynchronous(bool full);
  // fsyncs the WAL, making every commit so far durable. Writer thread.
  Status SyncWal();

  const std::unique_ptr<SqliteConnection> db_;  // used only by the writer thread
  const size_t max_batch_;
  const RollbackListener on_rollback_;  // called only by the writer thread
  const std::chrono::milliseconds sync_interval_;
  const MonotonicClock& clock_;
  // Writer thread only: the connection's synchronous setting, and since when commits are in the
  // WAL without an fsync (nullopt: none are).
  bool synchronous_full_ = true;
  // Set when a sync or a synced commit failed, cleared when one succeeds: while set, every
  // commit is synced, so a kWritten operation is not reported done on a WAL that cannot be
  // synced.
  bool sync_failed_ = false;
  std::optional<MonotonicTime> unsynced_since_;

  mutable Mutex mu_;
  CondVar work_cv_;  // signalled when queue_ grows or stopping_ is set
  CondVar done_cv_;  // signalled when a batch's results are ready
  std::deque<Pending*> queue_ COFFER_GUARDED_BY(mu_);
  bool stopping_ COFFER_GUARDED_BY(mu_) = false;
  GroupCommitStats stats_ COFFER_GUARDED_BY(mu_);  // pending is derived from queue_

  std::thread thread_;
};

}  // namespace coffer
