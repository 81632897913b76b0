// SqliteStoreImpl's dashboard sessions (store/session_store.h): one row per session, keyed by
// the SHA-256 of its cookie; ended sessions are swept by the next sign-in.
#include <string>
#include <string_view>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {
// The most ended sessions one sign-in deletes, so a sign-in after a long quiet stays quick.
constexpr int64_t kEndedSessionSweepLimit = 500;
}  // namespace

Status SqliteStoreImpl::InsertUiSession(const UiSession& session, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement sweep,
                     db.Prepare("DELETE FROM ui_sessions WHERE token_hash IN (SELECT token_hash"
                                " FROM ui_sessions WHERE expires_at <= ?1 LIMIT ?2)"));
    sweep.BindInt(1, session.created_at);
    sweep.BindInt(2, kEndedSessionSweepLimit);
    RETURN_IF_ERROR(sweep.Run());
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO ui_sessions (token_hash, user_id, credential_id,"
                                " created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    st.BindText(1, session.token_hash);
    st.BindText(2, session.user_id);
    st.BindText(3, session.credential_id);
    st.BindInt(4, session.created_at);
    st.BindInt(5, session.expires_at);
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a session with this token exists");
  });
}

StatusOr<UiSession> SqliteStoreImpl::GetUiSession(std::string_view token_hash) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare("SELECT token_hash, user_id, credential_id, created_at, expires_at"
                               " FROM ui_sessions WHERE token_hash = ?1"));
  st.BindText(1, token_hash);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) return Err(NotFoundError("session not found"));
  UiSession s;
  s.token_hash = st.ColumnText(0);
  s.user_id = st.ColumnText(1);
  s.credential_id = st.ColumnText(2);
  s.created_at = st.ColumnInt(3);
  s.expires_at = st.ColumnInt(4);
  return s;
}

Status SqliteStoreImpl::DeleteUiSession(std::string_view token_hash, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("DELETE FROM ui_sessions WHERE token_hash = ?1 RETURNING 1"));
    st.BindText(1, token_hash);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) return NotFoundError("session not found");
    ASSIGN_OR_RETURN(const bool more, st.Step());  // finishes the statement
    (void)more;
    return OkStatus();
  });
}

}  // namespace coffer::sqlite_store_internal
