// SqliteAuditChain and the audit_events queries.
#include "store/sqlite/sqlite_audit_log.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

namespace coffer {

namespace {

// The columns ReadEvent() expects, in order.
#define COFFER_AUDIT_COLUMNS                                                                \
  "seq, at, request_id, actor_kind, actor_id, action, vault_id, path, version, client_ip, " \
  "outcome, status, prev_hash, hash, http_status, request_count, details"

constexpr std::string_view kInsertSql =
    "INSERT INTO audit_events (" COFFER_AUDIT_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
constexpr std::string_view kSelectSql = "SELECT " COFFER_AUDIT_COLUMNS " FROM audit_events";

#undef COFFER_AUDIT_COLUMNS

StatusOr<Sha256Digest> ReadDigest(const SqliteStatement& st, int column) {
  const std::vector<uint8_t> blob = st.ColumnBlob(column);
  Sha256Digest digest{};
  if (blob.size() != digest.size()) {
    return Err(DataLossError("store: an audit event has a malformed hash"));
  }
  std::copy(blob.begin(), blob.end(), digest.begin());
  return digest;
}

StatusOr<AuditEvent> ReadEvent(const SqliteStatement& st) {
  AuditEvent e;
  e.seq = st.ColumnInt(0);
  e.at = st.ColumnInt(1);
  e.request_id = st.ColumnText(2);
  e.actor_kind = st.ColumnText(3);
  e.actor_id = st.ColumnText(4);
  e.action = st.ColumnText(5);
  e.vault_id = st.ColumnText(6);
  e.path = st.ColumnText(7);
  e.version = st.ColumnInt(8);
  e.client_ip = st.ColumnText(9);
  e.outcome = st.ColumnText(10);
  e.status = st.ColumnText(11);
  ASSIGN_OR_RETURN(e.prev_hash, ReadDigest(st, 12));
  ASSIGN_OR_RETURN(e.hash, ReadDigest(st, 13));
  e.http_status = static_cast<int32_t>(st.ColumnInt(14));
  e.count = st.ColumnInt(15);
  e.details = st.ColumnText(16);
  return e;
}

StatusOr<SqliteAuditChain::Head> LoadHead(SqliteConnection& db) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"));
  ASSIGN_OR_RETURN(const bool row, st.Step());
  SqliteAuditChain::Head head;  // an empty chain: seq 0, zero hash
  if (row) {
    head.seq = st.ColumnInt(0);
    ASSIGN_OR_RETURN(head.hash, ReadDigest(st, 1));
  }
  return head;
}

Status InsertEvent(SqliteConnection& db, const AuditEvent& e) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(kInsertSql));
  st.BindInt(1, e.seq);
  st.BindInt(2, e.at);
  st.BindText(3, e.request_id);
  st.BindText(4, e.actor_kind);
  st.BindText(5, e.actor_id);
  st.BindText(6, e.action);
  st.BindText(7, e.vault_id);
  st.BindText(8, e.path);
  st.BindInt(9, e.version);
  st.BindText(10, e.client_ip);
  st.BindText(11, e.outcome);
  st.BindText(12, e.status);
  st.BindBlob(13, e.prev_hash);
  st.BindBlob(14, e.hash);
  st.BindInt(15, e.http_status);
  st.BindInt(16, e.count);
  st.BindText(17, e.details);
  return st.Run();
}

// Ends a read transaction left open by an early return (or an exception from `visit`), so the
// pooled connection does not keep serving an old snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(SqliteConnection& db) : db_(db) {}
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    if (db_.InTransaction()) {
      (void)db_.Exec("ROLLBACK");  // a read: nothing to undo, the connection ends the transaction
    }
  }

 private:
  SqliteConnection& db_;
};

}  // namespace

Status SqliteAuditChain::Append(SqliteConnection& db, AuditEvent& event) {
  for (int attempt = 0;; ++attempt) {
    if (!head_.has_value()) {
      ASSIGN_OR_RETURN(head_, LoadHead(db));
    }
    AuditEvent chained = event;
    chained.seq = head_->seq + 1;
    chained.prev_hash = head_->hash;
    chained.hash = AuditChainHash(chained.prev_hash, chained);
    const Status inserted = InsertEvent(db, chained);
    if (inserted.ok()) {
      head_ = Head{chained.seq, chained.hash};
      event = std::move(chained);
      return OkStatus();
    }
    if (inserted.code() != StatusCode::kAlreadyExists || attempt > 0) {
      return inserted;
    }
    // The seq is taken: another process wrote to the file since the head was cached.
    head_.reset();
  }
}

// AuditEventResource's rule (model/identity.h) for resource_id ?8: each side of the OR is
// served by an index (path, seq) or (vault_id, seq).
constexpr std::string_view kResourceIdFilter =
    "((path = ?8 AND action LIKE 'secret.%' AND action <> 'secret.list') OR"
    " (vault_id = ?8 AND (action = 'secret.list' OR action LIKE 'vault.%')))";

StatusOr<std::vector<AuditEvent>> QueryAuditEvents(SqliteConnection& db, const AuditQuery& query) {
  // Fixed parameter numbers, so each combination of filters is one cached statement.
  std::string sql(kSelectSql);
  sql += " WHERE seq > ?1";
  if (!query.vault_id.empty()) {
    sql += " AND vault_id = ?2";
  }
  if (!query.resource_id.empty()) {
    sql += std::string(" AND ") + std::string(kResourceIdFilter);
  }
  if (!query.actor_id.empty()) {
    sql += " AND actor_id = ?3";
  }
  if (!query.action.empty()) {
    sql += " AND action = ?4";
  }
  if (query.since.has_value()) {
    sql += " AND at >= ?5";
  }
  if (query.until.has_value()) {
    sql += " AND at < ?6";
  }
  sql += query.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
  sql += " LIMIT ?7 OFFSET ?9";

  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(sql));
  st.BindInt(1, query.after_seq);
  if (!query.vault_id.empty()) {
    st.BindText(2, query.vault_id);
  }
  if (!query.resource_id.empty()) {
    st.BindText(8, query.resource_id);
  }
  if (!query.actor_id.empty()) {
    st.BindText(3, query.actor_id);
  }
  if (!query.action.empty()) {
    st.BindText(4, query.action);
  }
  if (query.since.has_value()) {
    st.BindInt(5, *query.since);
  }
  if (query.until.has_value()) {
    st.BindInt(6, *query.until);
  }
  // LIMIT -1 is no limit.
  st.BindInt(7, query.limit == 0 ? -1 : static_cast<int64_t>(query.limit));
  st.BindInt(9, static_cast<int64_t>(query.offset));
  std::vector<AuditEvent> events;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return events;
    }
    ASSIGN_OR_RETURN(AuditEvent e, ReadEvent(st));
    events.push_back(std::move(e));
  }
}

Status ScanAuditEvents(SqliteConnection& db, const std::function<bool(const AuditEvent&)>& visit) {
  ReadTransaction guard(db);
  RETURN_IF_ERROR(db.Exec("BEGIN"));
  {
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(std::string(kSelectSql) + " ORDER BY seq"));
    while (true) {
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) {
        break;
      }
      ASSIGN_OR_RETURN(const AuditEvent e, ReadEvent(st));
      if (!visit(e)) {
        break;
      }
    }
  }
  return db.Exec("COMMIT");
}

}  // namespace coffer
