// PostgresStoreImpl's audit methods: standalone appends through the group-commit batcher, and
// reading the chain back (filtered pages, or a scan of one snapshot). The chain itself, the
// locked head and the hashing, is pg_audit_chain.h.
#include <functional>
#include <optional>
#include <string>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

// Rows of the audit chain read per round trip by ScanAudit.
constexpr int kScanPage = 1000;

#define COFFER_PG_AUDIT_COLUMNS                                                             \
  "seq, at, request_id, actor_kind, actor_id, action, vault_id, path, version, client_ip, " \
  "outcome, status, prev_hash, hash, http_status, request_count, details"
constexpr std::string_view kAuditSelectSql = "SELECT " COFFER_PG_AUDIT_COLUMNS " FROM audit_events";
#undef COFFER_PG_AUDIT_COLUMNS

}  // namespace

StatusOr<AuditEvent> PostgresStoreImpl::AppendAudit(const AuditEvent& event) {
  return batcher_.Append(event);
}

StatusOr<std::vector<AuditEvent>> PostgresStoreImpl::ListAudit(const AuditQuery& query) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<AuditEvent>> {
    std::string sql(kAuditSelectSql);
    PgParams params;
    const auto next = [&] { return "$" + std::to_string(params.size()); };
    params.Int(query.after_seq);
    sql += " WHERE seq > " + next();
    if (!query.vault_id.empty()) {
      params.Text(query.vault_id);
      sql += " AND vault_id = " + next();
    }
    if (!query.resource_id.empty()) {
      // AuditEventResource's rule (model/identity.h); each side of the OR is served by an
      // index, (path, seq) or (vault_id, seq).
      params.Text(query.resource_id);
      sql += " AND ((path = " + next() +
             " AND action LIKE 'secret.%' AND action <> 'secret.list') OR (vault_id = " + next() +
             " AND (action = 'secret.list' OR action LIKE 'vault.%')))";
    }
    if (!query.actor_id.empty()) {
      params.Text(query.actor_id);
      sql += " AND actor_id = " + next();
    }
    if (!query.action.empty()) {
      params.Text(query.action);
      sql += " AND action = " + next();
    }
    if (query.since.has_value()) {
      params.Int(*query.since);
      sql += " AND at >= " + next();
    }
    if (query.until.has_value()) {
      params.Int(*query.until);
      sql += " AND at < " + next();
    }
    sql += query.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
    params.OptionalInt(query.limit == 0 ? std::nullopt : std::optional<int64_t>(query.limit));
    sql += " LIMIT " + next();
    params.Int(static_cast<int64_t>(query.offset));
    sql += " OFFSET " + next();
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
    return ReadAll<AuditEvent>(r, ReadEvent);
  });
}

Status PostgresStoreImpl::ScanAudit(const std::function<bool(const AuditEvent&)>& visit) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_->Acquire());
  // One REPEATABLE READ snapshot for every page.
  RETURN_IF_ERROR(conn->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
  Status status = OkStatus();
  int64_t after = 0;
  bool more = true;
  while (status.ok() && more) {
    auto page = conn->Exec(std::string(kAuditSelectSql) + " WHERE seq > $1 ORDER BY seq LIMIT $2",
                           PgParams().Int(after).Int(kScanPage));
    if (!page.has_value()) {
      status = page.error();
      break;
    }
    more = page->rows() == kScanPage;
    for (int row = 0; row < page->rows(); ++row) {
      auto event = ReadEvent(*page, row);
      if (!event.has_value()) {
        status = event.error();
        break;
      }
      after = event->seq;
      if (!visit(*event)) {
        more = false;
        break;
      }
    }
  }
  const Status ended = conn->ExecScript(status.ok() ? "COMMIT" : "ROLLBACK");
  return status.ok() ? ended : status;
}

}  // namespace coffer::postgres_internal
