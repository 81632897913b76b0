// PostgresStoreImpl's key grace windows: a rotation whose retired API keys keep working until a
// future revoked_at, and the mark by which the end of each window is audited exactly once, by
// whichever server clears it first (a conditional UPDATE under the row lock).
#include <optional>
#include <string>
#include <string_view>

#include "store/postgres/postgres_rows.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

Status PostgresStoreImpl::RotateWithGrace(const GraceRotation& r, const AuditEvent* audit) {
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
  const bool pending = r.keys_until > r.at;
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    if (agent) {
      // The agent's row lock orders this against other rotations and its revocation.
      ASSIGN_OR_RETURN(PgResult a,
                       conn.Exec("SELECT revoked_at IS NOT NULL FROM agents WHERE id = $1"
                                 " FOR UPDATE",
                                 PgParams().Text(r.principal_id)));
      if (a.rows() == 0) return NotFoundError("agent not found");
      if (a.Bool(0, 0)) return FailedPreconditionError("the agent is revoked");
      RETURN_IF_ERROR(
          conn.Run("UPDATE credentials SET revoked_at = CASE WHEN kind = 'key' THEN $2 ELSE $3 END,"
                   " grace_pending = (kind = 'key' AND $4)"
                   " WHERE principal_kind = 'agent' AND principal_id = $1 AND revoked_at IS NULL",
                   PgParams().Text(r.principal_id).Int(r.keys_until).Int(r.at).Bool(pending)));
    } else {
      ASSIGN_OR_RETURN(PgResult k,
                       conn.Exec("SELECT revoked_at IS NOT NULL FROM credentials"
                                 " WHERE public_id = $1 AND kind = 'key'"
                                 " AND principal_kind = 'user' AND principal_id = $2 FOR UPDATE",
                                 PgParams().Text(r.old_key_id).Text(r.principal_id)));
      if (k.rows() == 0) return NotFoundError("API key not found");
      if (k.Bool(0, 0)) {
        return FailedPreconditionError("the API key is already revoked (or in a grace window)");
      }
      RETURN_IF_ERROR(conn.Run(
          "UPDATE credentials SET revoked_at = $2, grace_pending = $3 WHERE public_id = $1",
          PgParams().Text(r.old_key_id).Int(r.keys_until).Bool(pending)));
    }
    for (const Credential& c : r.fresh) {
      RETURN_IF_ERROR(InsertCredentialRow(conn, c));
    }
    return OkStatus();
  });
}

StatusOr<std::optional<Credential>> PostgresStoreImpl::NextEndedGrace(UnixMicros now) {
  ASSIGN_OR_RETURN(PgResult r, Read([&](PgConnection& conn) {
                     return conn.Exec(
                         "SELECT public_id FROM credentials WHERE grace_pending"
                         " AND revoked_at <= $1 ORDER BY revoked_at LIMIT 1",
                         PgParams().Int(now));
                   }));
  if (r.rows() == 0) return std::optional<Credential>();
  auto c = GetCredential(r.Text(0, 0));
  if (!c.has_value()) {
    if (c.error().code() == StatusCode::kNotFound) return std::optional<Credential>();
    return Err(c.error());
  }
  return std::optional<Credential>(std::move(*c));
}

Status PostgresStoreImpl::EndKeyGrace(std::string_view public_id, UnixMicros now,
                                      const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("UPDATE credentials SET grace_pending = false"
                               " WHERE public_id = $1 AND grace_pending AND revoked_at <= $2",
                               PgParams().Text(public_id).Int(now)));
    if (r.affected() == 0) {
      return AbortedError("the grace window's end is already audited, or has not come");
    }
    return OkStatus();
  });
}

}  // namespace coffer::postgres_internal
