// PostgresStoreImpl's usage counts (Store::ApplyUsage): one transaction adds a batch of reads
// and agents' last use as increments, so the flushes of several servers add up; rows are
// updated in one order (store/usage_batch.h) so concurrent flushes cannot deadlock.
#include "store/postgres/postgres_store_impl.h"
#include "store/usage_batch.h"

namespace coffer::postgres_internal {

Status PostgresStoreImpl::ApplyUsage(const UsageBatch& batch) {
  if (batch.empty()) {
    return OkStatus();
  }
  const store_internal::FoldedUsage usage = store_internal::FoldUsage(batch);
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    for (const store_internal::SecretReads& s : usage.secrets) {
      RETURN_IF_ERROR(conn.Run(
          "UPDATE secrets SET read_count = read_count + $2,"
          " last_read_by = CASE WHEN last_read_at IS NULL OR last_read_at <= $3"
          "  THEN $4 ELSE last_read_by END,"
          " last_read_at = GREATEST(last_read_at, $3) WHERE id = $1",
          PgParams().Text(s.secret_id).Int(s.reads).Int(s.last_read_at).Text(s.last_read_by)));
    }
    for (const VersionReads& v : usage.versions) {
      RETURN_IF_ERROR(
          conn.Run("UPDATE secret_versions SET access_count = access_count"
                   "  + CASE WHEN max_access_count = 0 THEN $3 ELSE 0 END,"
                   " last_read_by = CASE WHEN last_read_at IS NULL OR last_read_at <= $4"
                   "  THEN $5 ELSE last_read_by END,"
                   " last_read_at = GREATEST(last_read_at, $4)"
                   " WHERE secret_id = $1 AND version = $2",
                   PgParams()
                       .Text(v.secret_id)
                       .Int(v.version)
                       .Int(v.reads)
                       .Int(v.last_read_at)
                       .Text(v.last_read_by)));
    }
    for (const AgentUse& a : usage.agents) {
      RETURN_IF_ERROR(
          conn.Run("UPDATE agents SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1",
                   PgParams().Text(a.agent_id).Int(a.last_used_at)));
    }
    return OkStatus();
  });
}

}  // namespace coffer::postgres_internal
