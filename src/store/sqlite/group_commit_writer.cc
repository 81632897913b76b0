// The group-commit loop: batch queued write operations into one transaction, one SAVEPOINT per
// operation, one COMMIT (one fsync, unless no operation of the batch needs one) per batch.
#include "store/sqlite/group_commit_writer.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "common/non_blocking.h"

namespace coffer {

namespace {

Status AsUnavailable(const Status& cause) {
  return Status(StatusCode::kUnavailable, cause.message(), cause.payload());
}

// Runs one operation; an exception escaping it (it is caller code) becomes kInternal rather
// than ending the writer thread.
Status RunOp(const WriteOp& op, SqliteConnection& db) {
  try {
    return op(db);
  } catch (const std::exception&) {
    return InternalError("store: a write operation failed unexpectedly");
  } catch (...) {
    return InternalError("store: a write operation failed unexpectedly");
  }
}

}  // namespace

StatusOr<std::unique_ptr<GroupCommitWriter>> GroupCommitWriter::Start(
    std::unique_ptr<SqliteConnection> db, size_t max_batch, RollbackListener on_rollback,
    std::chrono::milliseconds sync_interval, const MonotonicClock& clock) {
  std::unique_ptr<GroupCommitWriter> writer(
      new GroupCommitWriter(std::move(db), std::max<size_t>(max_batch, 1), std::move(on_rollback),
                            std::max(sync_interval, std::chrono::milliseconds(1)), clock));
  RETURN_IF_ERROR(writer->db_->Exec("PRAGMA synchronous = FULL"));
  try {
    writer->thread_ = std::thread([w = writer.get()] { w->Loop(); });
  } catch (const std::system_error&) {
    return Err(InternalError("store: cannot start the writer thread"));
  }
  return writer;
}

GroupCommitWriter::~GroupCommitWriter() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  work_cv_.NotifyAll();
  if (thread_.joinable()) {
    thread_.join();
  }
  // A destructor has no one to tell of a failure. Closing the connection then tries the same
  // again: SQLite rolls back an open transaction and checkpoints the WAL (or keeps it, to replay
  // on the next open).
  if (db_->InTransaction()) {
    (void)db_->ExecCached("ROLLBACK");
  }
  (void)SyncWal();
  // Folds the WAL into the database file so a closed store is one self-contained file.
  (void)db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Status GroupCommitWriter::Run(const WriteOp& op, Durability durability) {
  if (NonBlockingScope::MustNotBlock()) {
    NonBlockingScope::NoteRefused();
    return UnavailableError("store: a write cannot wait on this thread");
  }
  Pending pending{&op, durability, OkStatus()};
  {
    MutexLock lock(mu_);
    if (stopping_) {
      return UnavailableError("store: the store is closing");
    }
    queue_.push_back(&pending);
  }
  work_cv_.NotifyOne();
  MutexLock lock(mu_);
  while (!pending.done) {
    done_cv_.Wait(mu_);
  }
  return std::move(pending.result);
}

void GroupCommitWriter::RunAsync(WriteOp op, Durability durability,
                                 std::function<void(Status)> done) {
  auto pending = std::make_unique<Pending>();
  pending->owned_op = std::move(op);
  pending->op = &pending->owned_op;
  pending->durability = durability;
  pending->on_done = std::move(done);
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queue_.push_back(pending.release());
    }
  }
  if (pending != nullptr) {
    pending->on_done(UnavailableError("store: the store is closing"));
    return;
  }
  work_cv_.NotifyOne();
}

GroupCommitStats GroupCommitWriter::Stats() const {
  MutexLock lock(mu_);
  GroupCommitStats stats = stats_;
  stats.pending = queue_.size();
  return stats;
}

Status GroupCommitWriter::SetSynchronous(bool full) {
  if (full == synchronous_full_) {
    return OkStatus();
  }
  RETURN_IF_ERROR(db_->Exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"));
  synchronous_full_ = full;
  return OkStatus();
}

Status GroupCommitWriter::SyncWal() {
  if (!unsynced_since_.has_value()) {
    return OkStatus();
  }
  RETURN_IF_ERROR(db_->SyncWal());
  unsynced_since_.reset();
  MutexLock lock(mu_);
  ++stats_.syncs;
  return OkStatus();
}

void GroupCommitWriter::Loop() {
  std::vector<Pending*> batch;
  while (true) {
    batch.clear();
    bool sync_due = false;
    {
      MutexLock lock(mu_);
      // Work, or the time the kWritten commits in the WAL are due for their fsync.
      const MonotonicTime sync_at =
          unsynced_since_.has_value() ? *unsynced_since_ + sync_interval_ : MonotonicTime::max();
      clock_.WaitUntil(mu_, work_cv_, sync_at,
                       [&]() COFFER_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      // Due whether or not operations are waiting: a steady stream of them must not put the
      // fsync off.
      sync_due = clock_.Now() >= sync_at;
      if (queue_.empty() && !sync_due) {
        return;  // stopping, and everything queued has run (the destructor syncs)
      }
      const size_t n = std::min(queue_.size(), max_batch_);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    }
    if (batch.empty()) {
      // A failed sync is retried at the next interval; the next synced commit covers it too.
      if (!SyncWal().ok()) {
        unsynced_since_ = clock_.Now();
        sync_failed_ = true;
        MutexLock lock(mu_);
        ++stats_.sync_failures;
      }
      continue;
    }
    // While syncs fail, nothing is answered as written that a sync would not keep: every
    // commit is synced (and so fails) until one succeeds. A batch taken when a sync is due is
    // synced: its commit's fsync covers the earlier commits.
    const bool synced =
        sync_failed_ || sync_due || std::any_of(batch.begin(), batch.end(), [](const Pending* p) {
          return p->durability == Durability::kSynced;
        });
    const uint64_t commits = RunBatch(batch, synced);
    if (commits > 0) {
      if (synced) {
        unsynced_since_.reset();  // the commit's fsync of the WAL covered earlier frames too
        sync_failed_ = false;
      } else if (!unsynced_since_.has_value()) {
        unsynced_since_ = clock_.Now();
      }
    }
    const size_t batch_size = batch.size();
    // RunAsync's operations leave the batch before Run's waiters are woken (a woken waiter's
    // Pending is gone at once); their callbacks run last, outside the lock.
    std::vector<std::unique_ptr<Pending>> detached;
    std::erase_if(batch, [&](Pending* p) {
      if (!p->on_done) {
        return false;
      }
      detached.emplace_back(p);
      return true;
    });
    {
      MutexLock lock(mu_);
      for (Pending* p : batch) {
        p->done = true;
      }
      stats_.ops += batch_size;
      stats_.commits += commits;
      if (synced) {
        stats_.syncs += commits;
      }
      stats_.largest_batch = std::max<uint64_t>(stats_.largest_batch, batch_size);
    }
    done_cv_.NotifyAll();
    for (std::unique_ptr<Pending>& p : detached) {
      p->on_done(std::move(p->result));
    }
  }
}

uint64_t GroupCommitWriter::RunBatch(const std::vector<Pending*>& batch, bool synced) {
  uint64_t commits = 0;
  if (const Status set = SetSynchronous(synced); !set.ok()) {
    for (Pending* p : batch) {
      p->result = AsUnavailable(set);
    }
    return commits;
  }
  bool open = false;
  std::vector<Pending*> kept;  // succeeded; their changes are in the open transaction
  // Ends the open transaction without keeping anything: the kept ops get kUnavailable.
  auto abandon = [&](const Status& cause) {
    if (db_->InTransaction()) {
      (void)db_->ExecCached("ROLLBACK");  // the ops get `cause`; nothing of theirs is kept
    }
    for (Pending* p : kept) {
      p->result = AsUnavailable(cause);
    }
    kept.clear();
    open = false;
    if (on_rollback_) {
      on_rollback_();
    }
  };

  for (size_t i = 0; i < batch.size(); ++i) {
    Pending* p = batch[i];
    if (!open) {
      // BEGIN IMMEDIATE takes the write lock now, so no statement below can hit SQLITE_BUSY.
      const Status begun = db_->ExecCached("BEGIN IMMEDIATE");
      if (!begun.ok()) {
        // Another process held the lock past the busy timeout, or the disk failed: retrying
        // op by op would only multiply the wait.
        for (size_t j = i; j < batch.size(); ++j) {
          batch[j]->result = AsUnavailable(begun);
        }
        return commits;
      }
      open = true;
    }
    Status s = db_->ExecCached("SAVEPOINT op");
    if (!s.ok()) {
      p->result = AsUnavailable(s);
      abandon(s);
      continue;
    }
    Status result = RunOp(*p->op, *db_);
    if (result.ok()) {
      s = db_->ExecCached("RELEASE op");
      if (!s.ok()) {
        p->result = AsUnavailable(s);
        abandon(s);
        continue;
      }
      p->result = OkStatus();  // final once the COMMIT succeeds
      kept.push_back(p);
      continue;
    }
    p->result = std::move(result);
    if (!db_->InTransaction()) {
      // SQLite rolled the whole transaction back by itself (it may on FULL, IOERR, NOMEM).
      abandon(UnavailableError("store: the write transaction was rolled back"));
      continue;
    }
    s = db_->ExecCached("ROLLBACK TO op");
    if (s.ok()) {
      s = db_->ExecCached("RELEASE op");
    }
    if (!s.ok()) {
      abandon(s);
    }
  }

  if (open) {
    if (kept.empty()) {
      abandon(OkStatus());  // nothing to keep: roll back instead of paying for an fsync
    } else {
      const Status committed = db_->ExecCached("COMMIT");
      if (committed.ok()) {
        ++commits;
      } else {
        sync_failed_ = sync_failed_ || synced;  // a synced COMMIT fails mostly in its fsync
        abandon(committed);
      }
    }
  }
  return commits;
}

}  // namespace coffer
