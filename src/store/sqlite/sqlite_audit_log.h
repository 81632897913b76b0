// The audit_events table of the SQLite store: appending to the hash chain from inside a write
// operation (with the chain head cached on the writer side), and reading events back.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/sha256.h"
#include "common/status.h"
#include "model/identity.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/store.h"

namespace coffer {

// The writer's view of the chain: appends events and remembers the last one's seq and hash, so
// an append costs one INSERT and no read. Not thread-safe: used only on the writer thread (by
// write operations and the writer's rollback listener).
class SqliteAuditChain {
 public:
  // The last event of the chain as the open transaction sees it.
  struct Head {
    int64_t seq = 0;  // 0: the chain is empty
    Sha256Digest hash{};
  };

  // Assigns `event` the next seq, the head's hash as prev_hash, and its own hash, inserts it and
  // advances the head. On failure nothing is inserted and the head is unchanged. If another
  // process appended meanwhile (the cached seq is taken), it reloads the head and tries once
  // more. REQUIRES: inside a write transaction on `db`, the writer connection.
  Status Append(SqliteConnection& db, AuditEvent& event);

  // The cached head (nullopt: not loaded), and putting a saved one back. A write operation that
  // fails after appending restores what it saw when it started, because its SAVEPOINT rollback
  // removed its rows.
  std::optional<Head> cached() const { return head_; }
  void Restore(std::optional<Head> head) { head_ = head; }

  // Drops the cached head; the next Append reads it from the table. For when the transaction
  // was rolled back as a whole.
  void Forget() { head_.reset(); }

 private:
  std::optional<Head> head_;
};

// Events matching `query` in seq order (see Store::ListAudit). Any connection.
StatusOr<std::vector<AuditEvent>> QueryAuditEvents(SqliteConnection& db, const AuditQuery& query);

// Calls `visit` for every event in seq order until it returns false, inside one read
// transaction so the events form one snapshot. REQUIRES: no transaction open on `db`.
Status ScanAuditEvents(SqliteConnection& db, const std::function<bool(const AuditEvent&)>& visit);

}  // namespace coffer
