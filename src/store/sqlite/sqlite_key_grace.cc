// SqliteStoreImpl's key grace windows: a rotation whose retired API keys keep working until a
// future revoked_at, and the mark by which the end of each window is audited exactly once.
#include <optional>
#include <string>
#include <string_view>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

Status SqliteStoreImpl::RotateWithGrace(const GraceRotation& r, const AuditEvent* audit) {
  if (r.keys_until < r.at) {
    return InvalidArgumentError("store: a grace window cannot end before it starts");
  }
  for (const Credential& c : r.fresh) {
    if (c.principal_kind != r.principal_kind || c.principal_id != r.principal_id) {
      return InvalidArgumentError("store: a credential does not belong to the principal");
    }
  }
  const bool agent = r.principal_kind == PrincipalKind::kAgent;
  const StoreChange change = agent ? StoreChange::Principal(PrincipalKind::kAgent, r.principal_id)
                                   : StoreChange::Credential(r.old_key_id);
  const int64_t pending = r.keys_until > r.at ? 1 : 0;
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    // The writer runs one operation at a time: nothing changes between these checks and the
    // updates below.
    if (agent) {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT revoked_at IS NOT NULL FROM agents WHERE id = ?1"));
      st.BindText(1, r.principal_id);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) return NotFoundError("agent not found");
      if (st.ColumnInt(0) != 0) return FailedPreconditionError("the agent is revoked");
      ASSIGN_OR_RETURN(SqliteStatement keys,
                       db.Prepare("UPDATE credentials SET revoked_at = CASE WHEN kind = 'key'"
                                  " THEN ?2 ELSE ?3 END,"
                                  " grace_pending = CASE WHEN kind = 'key' THEN ?4 ELSE 0 END"
                                  " WHERE principal_kind = 'agent' AND principal_id = ?1"
                                  " AND revoked_at IS NULL"));
      keys.BindText(1, r.principal_id);
      keys.BindInt(2, r.keys_until);
      keys.BindInt(3, r.at);
      keys.BindInt(4, pending);
      RETURN_IF_ERROR(keys.Run());
    } else {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT revoked_at IS NOT NULL FROM credentials"
                                  " WHERE public_id = ?1 AND kind = 'key'"
                                  " AND principal_kind = 'user' AND principal_id = ?2"));
      st.BindText(1, r.old_key_id);
      st.BindText(2, r.principal_id);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) return NotFoundError("API key not found");
      if (st.ColumnInt(0) != 0) {
        return FailedPreconditionError("the API key is already revoked (or in a grace window)");
      }
      ASSIGN_OR_RETURN(SqliteStatement key,
                       db.Prepare("UPDATE credentials SET revoked_at = ?2, grace_pending = ?3"
                                  " WHERE public_id = ?1"));
      key.BindText(1, r.old_key_id);
      key.BindInt(2, r.keys_until);
      key.BindInt(3, pending);
      RETURN_IF_ERROR(key.Run());
    }
    for (const Credential& c : r.fresh) {
      RETURN_IF_ERROR(InsertCredentialRow(db, c));
    }
    return OkStatus();
  });
}

StatusOr<std::optional<Credential>> SqliteStoreImpl::NextEndedGrace(UnixMicros now) {
  std::string public_id;
  {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT public_id FROM credentials WHERE grace_pending = 1"
                                 " AND revoked_at <= ?1 ORDER BY revoked_at LIMIT 1"));
    st.BindInt(1, now);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) return std::optional<Credential>();
    public_id = st.ColumnText(0);
  }
  auto c = GetCredential(public_id);
  if (!c.has_value()) {
    if (c.error().code() == StatusCode::kNotFound) return std::optional<Credential>();
    return Err(c.error());
  }
  return std::optional<Credential>(std::move(*c));
}

Status SqliteStoreImpl::EndKeyGrace(std::string_view public_id, UnixMicros now,
                                    const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("UPDATE credentials SET grace_pending = 0"
                   " WHERE public_id = ?1 AND grace_pending = 1 AND revoked_at <= ?2"));
    st.BindText(1, public_id);
    st.BindInt(2, now);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return AbortedError("the grace window's end is already audited, or has not come");
    }
    return OkStatus();
  });
}

}  // namespace coffer::sqlite_store_internal
