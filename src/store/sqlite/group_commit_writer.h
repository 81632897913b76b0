// GroupCommitWriter: owns the one read-write SQLite connection and a thread that runs every write.
// Callers queue an operation and block; the thread runs up to max_batch queued operations in one
// transaction (a SAVEPOINT each) and commits them with a single fsync.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

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

struct GroupCommitStats {
  uint64_t ops = 0;            // operations run (committed or not)
  uint64_t commits = 0;        // transactions committed, one WAL fsync each
  uint64_t largest_batch = 0;  // most operations taken in one batch
  uint64_t pending = 0;        // operations queued right now, not yet taken by the writer
};

class GroupCommitWriter {
 public:
  // Starts the writer thread. kInternal if it cannot be started. `on_rollback` may be empty.
  // REQUIRES: `db` is a read-write connection with no transaction open; max_batch >= 1.
  static StatusOr<std::unique_ptr<GroupCommitWriter>> Start(std::unique_ptr<SqliteConnection> db,
                                                            size_t max_batch,
                                                            RollbackListener on_rollback = {});

  // Runs every operation still queued, stops the thread, checkpoints the WAL into the database
  // file and closes the connection.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Queues `op` and blocks until its batch is over. OK means its changes are committed and
  // durable. Otherwise: the op's own error (its changes rolled back, the batch unaffected), or
  // kUnavailable when the batch's transaction could not be begun or committed (nothing of the
  // op was kept). Thread-safe.
  Status Run(const WriteOp& op);

  // Thread-safe.
  GroupCommitStats Stats() const;

 private:
  struct Pending {
    const WriteOp* op;
    Status result;
    bool done = false;  // guarded by mu_
  };

  GroupCommitWriter(std::unique_ptr<SqliteConnection> db, size_t max_batch,
                    RollbackListener on_rollback)
      : db_(std::move(db)), max_batch_(max_batch), on_rollback_(std::move(on_rollback)) {}
  void Loop();
  // Runs `batch` on db_ and sets each result. Returns the number of COMMITs done. Writer thread.
  uint64_t RunBatch(const std::vector<Pending*>& batch);

  const std::unique_ptr<SqliteConnection> db_;  // used only by the writer thread
  const size_t max_batch_;
  const RollbackListener on_rollback_;  // called only by the writer thread

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // signalled when queue_ grows or stopping_ is set
  std::condition_variable done_cv_;  // signalled when a batch's results are ready
  std::deque<Pending*> queue_;       // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  GroupCommitStats stats_;           // guarded by mu_ (pending is derived from queue_)

  std::thread thread_;
};

}  // namespace coffer
