// PostgresStoreImpl's dashboard sessions (store/session_store.h): one row per session, keyed by
// the SHA-256 of its cookie, shared by every server of the database; ended sessions are swept
// by the next sign-in.
#include <string>
#include <string_view>

#include "store/postgres/postgres_rows.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {
// The most ended sessions one sign-in deletes, so a sign-in after a long quiet stays quick.
constexpr int64_t kEndedSessionSweepLimit = 500;

UiSession ReadUiSession(const PgResult& r, int row) {
  UiSession s;
  s.token_hash = r.Text(row, 0);
  s.user_id = r.Text(row, 1);
  s.credential_id = r.Text(row, 2);
  s.created_at = r.Int(row, 3);
  s.expires_at = r.Int(row, 4);
  return s;
}
}  // namespace

Status PostgresStoreImpl::InsertUiSession(const UiSession& session, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    RETURN_IF_ERROR(
        conn.Run("DELETE FROM ui_sessions WHERE token_hash IN (SELECT token_hash FROM ui_sessions"
                 " WHERE expires_at <= $1 LIMIT $2)",
                 PgParams().Int(session.created_at).Int(kEndedSessionSweepLimit)));
    Status s = conn.Run(
        "INSERT INTO ui_sessions (token_hash, user_id, credential_id, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        PgParams()
            .Text(session.token_hash)
            .Text(session.user_id)
            .Text(session.credential_id)
            .Int(session.created_at)
            .Int(session.expires_at));
    return Reword(std::move(s), StatusCode::kAlreadyExists, "a session with this token exists");
  });
}

StatusOr<UiSession> PostgresStoreImpl::GetUiSession(std::string_view token_hash) {
  return Read([&](PgConnection& conn) -> StatusOr<UiSession> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("SELECT token_hash, user_id, credential_id, created_at, expires_at"
                               " FROM ui_sessions WHERE token_hash = $1",
                               PgParams().Text(token_hash)));
    if (r.rows() == 0) return Err(NotFoundError("session not found"));
    return ReadUiSession(r, 0);
  });
}

Status PostgresStoreImpl::DeleteUiSession(std::string_view token_hash, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("DELETE FROM ui_sessions WHERE token_hash = $1"
                                           " RETURNING 1",
                                           PgParams().Text(token_hash)));
    if (r.rows() == 0) return NotFoundError("session not found");
    return OkStatus();
  });
}

}  // namespace coffer::postgres_internal
