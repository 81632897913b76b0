// SqliteStoreImpl's usage counts (Store::ApplyUsage): one write operation adds a batch of reads
// and agents' last use, as increments and later-time-wins updates.
#include "store/sqlite/sqlite_store_impl.h"
#include "store/usage_batch.h"

namespace coffer::sqlite_store_internal {

Status SqliteStoreImpl::ApplyUsage(const UsageBatch& batch) {
  if (batch.empty()) {
    return OkStatus();
  }
  const store_internal::FoldedUsage usage = store_internal::FoldUsage(batch);
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    for (const store_internal::SecretReads& s : usage.secrets) {
      ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.Prepare("UPDATE secrets SET read_count = read_count + ?2,"
                     " last_read_by = CASE WHEN last_read_at IS NULL OR last_read_at <= ?3"
                     "  THEN ?4 ELSE last_read_by END,"
                     " last_read_at = MAX(COALESCE(last_read_at, ?3), ?3) WHERE id = ?1"));
      st.BindText(1, s.secret_id);
      st.BindInt(2, s.reads);
      st.BindInt(3, s.last_read_at);
      st.BindText(4, s.last_read_by);
      RETURN_IF_ERROR(st.Run());
    }
    for (const VersionReads& v : usage.versions) {
      ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.Prepare("UPDATE secret_versions SET access_count = access_count"
                     "  + CASE WHEN max_access_count = 0 THEN ?3 ELSE 0 END,"
                     " last_read_by = CASE WHEN last_read_at IS NULL OR last_read_at <= ?4"
                     "  THEN ?5 ELSE last_read_by END,"
                     " last_read_at = MAX(COALESCE(last_read_at, ?4), ?4)"
                     " WHERE secret_id = ?1 AND version = ?2"));
      st.BindText(1, v.secret_id);
      st.BindInt(2, v.version);
      st.BindInt(3, v.reads);
      st.BindInt(4, v.last_read_at);
      st.BindText(5, v.last_read_by);
      RETURN_IF_ERROR(st.Run());
    }
    for (const AgentUse& a : usage.agents) {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE agents SET last_used_at ="
                                  " MAX(COALESCE(last_used_at, ?2), ?2) WHERE id = ?1"));
      st.BindText(1, a.agent_id);
      st.BindInt(2, a.last_used_at);
      RETURN_IF_ERROR(st.Run());
    }
    return OkStatus();
  });
}

}  // namespace coffer::sqlite_store_internal
