// SqliteStoreImpl's audit methods, and the write path every mutation takes: its body and its
// audit event appended to the chain (sqlite_audit_log.h) in one operation, kept or dropped
// together.
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

// Puts the audit chain's cached head back as it was when a write operation began, unless the
// operation succeeded: its SAVEPOINT rollback removed any event it appended. Writer thread.
class ChainHeadGuard {
 public:
  explicit ChainHeadGuard(SqliteAuditChain& chain) : chain_(chain), saved_(chain.cached()) {}
  ChainHeadGuard(const ChainHeadGuard&) = delete;
  ChainHeadGuard& operator=(const ChainHeadGuard&) = delete;
  ~ChainHeadGuard() {
    if (!kept_) {
      chain_.Restore(saved_);
    }
  }
  void Keep() { kept_ = true; }

 private:
  SqliteAuditChain& chain_;
  const std::optional<SqliteAuditChain::Head> saved_;
  bool kept_ = false;
};

}  // namespace

// --- write operations and their audit events -------------------------------------------------

Status SqliteStoreImpl::Write(const AuditEvent* audit, const WriteBody& body, AuditEvent* appended,
                              Durability durability) {
  return writer_->Run(
      [&](SqliteConnection& db) -> Status { return WriteInOp(db, audit, body, appended); },
      durability);
}

Status SqliteStoreImpl::WriteInOp(SqliteConnection& db, const AuditEvent* audit,
                                  const WriteBody& body, AuditEvent* appended) {
  ChainHeadGuard guard(*audit_chain_);
  std::optional<AuditEvent> event;
  if (audit != nullptr) {
    event.emplace(*audit);
  }
  RETURN_IF_ERROR(body(db, event.has_value() ? &*event : nullptr));
  if (event.has_value()) {
    RETURN_IF_ERROR(audit_chain_->Append(db, *event));
    if (appended != nullptr) {
      *appended = std::move(*event);
    }
  }
  guard.Keep();
  return OkStatus();
}

// --- audit -----------------------------------------------------------------------------------

StatusOr<AuditEvent> SqliteStoreImpl::AppendAudit(const AuditEvent& event) {
  // An event standing alone records a request that changed nothing (a read, a refusal, a
  // failure): written before the answer, fsynced within the writer's sync interval.
  AuditEvent stored;
  RETURN_IF_ERROR(Write(
      &event, [](SqliteConnection&, AuditEvent*) { return OkStatus(); }, &stored,
      Durability::kWritten));
  return stored;
}

void SqliteStoreImpl::AppendAuditAsync(std::shared_ptr<const AuditEvent> event,
                                       std::function<void(Status)> done) {
  writer_->RunAsync(
      [this, event = std::move(event)](SqliteConnection& db) {
        return WriteInOp(db, event.get(),
                         [](SqliteConnection&, AuditEvent*) { return OkStatus(); });
      },
      Durability::kWritten, std::move(done));
}

StatusOr<std::vector<AuditEvent>> SqliteStoreImpl::ListAudit(const AuditQuery& query) {
  auto db = readers_->Acquire();
  return QueryAuditEvents(*db, query);
}

Status SqliteStoreImpl::ScanAudit(const std::function<bool(const AuditEvent&)>& visit) {
  auto db = readers_->Acquire();
  return ScanAuditEvents(*db, visit);
}

}  // namespace coffer::sqlite_store_internal
