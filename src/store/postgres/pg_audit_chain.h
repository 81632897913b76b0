// Appending to the audit hash chain on PostgreSQL, for any number of servers: the audit_head row
// is locked (FOR UPDATE) by every append, so appends queue on it across servers and each chains
// to the committed head. PgAuditBatcher lets concurrent standalone appends of one server share a
// single transaction, so they share one wait for that lock and one commit.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "model/identity.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_pool.h"

namespace coffer {

// Locks the head, assigns `events` the next seqs in order, chains and hashes them, inserts them
// and moves the head, in one statement after the lock. On failure the events are unchanged.
// REQUIRES: inside a transaction on `conn`, as its last work before COMMIT (the lock is held
// until the transaction ends, so every moment after it delays every server's appends).
Status AppendAuditEvents(PgConnection& conn, std::vector<AuditEvent*>& events);

// Group commit for AppendAudit. A caller that finds no batch running leads: it takes every
// queued event (its own and others', up to kMaxBatch), appends them in one transaction, wakes
// their callers, and hands the lead on. Thread-safe.
class PgAuditBatcher {
 public:
  static constexpr size_t kMaxBatch = 128;

  explicit PgAuditBatcher(PgPool& pool) : pool_(pool) {}

  // Appends `event` (durable on return) and returns it with seq and hashes. If its batch fails
  // and held other events, each is tried again on its own, so one bad event fails only its
  // own caller.
  StatusOr<AuditEvent> Append(const AuditEvent& event);

 private:
  struct Pending {
    AuditEvent event;
    Status status;
    bool done = false;
  };
  // One transaction for `batch`, retried on conflicts and on a connection lost before COMMIT.
  Status Commit(std::vector<Pending*>& batch);

  PgPool& pool_;
  Mutex mu_;
  CondVar cv_;  // a batch finished, or the lead was handed on
  std::deque<Pending*> queue_ COFFER_GUARDED_BY(mu_);
  bool leading_ COFFER_GUARDED_BY(mu_) = false;  // a caller is committing a batch
};

}  // namespace coffer
