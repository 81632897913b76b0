// SqliteStoreImpl's share links: inserted beside the version they name, found by the HMAC of
// their token, listed by creator, revoked, and counted (ConsumeShareAccess) together with the
// version's own read limit in one write operation.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

// The columns ReadShare() expects, from `shares AS h` joined with `secrets AS s`.
constexpr std::string_view kShareColumnsSql =
    "SELECT h.id, h.token_hmac, h.secret_id, h.version, s.vault_id, s.path, h.recipient_type,"
    " h.expires_at, h.max_access_count, h.access_count, h.created_by, h.created_at,"
    " h.revoked_at, h.pepper_ids FROM shares AS h JOIN secrets AS s ON s.id = h.secret_id";

Share ReadShare(const SqliteStatement& st) {
  Share h;
  h.id = st.ColumnText(0);
  h.token_hmac = st.ColumnBlob(1);
  h.secret_id = st.ColumnText(2);
  h.version = st.ColumnInt(3);
  h.vault_id = st.ColumnText(4);
  h.path = st.ColumnText(5);
  h.recipient_type = st.ColumnText(6);
  h.expires_at = st.ColumnInt(7);
  h.max_access_count = st.ColumnInt(8);
  h.access_count = st.ColumnInt(9);
  h.created_by = st.ColumnText(10);
  h.created_at = st.ColumnInt(11);
  h.revoked_at = st.ColumnOptionalInt(12);
  h.pepper_ids = ParsePepperIds(st.ColumnText(13));
  return h;
}

// Why ConsumeShareAccess counted nothing, read in its transaction.
Status WhyShareRefused(SqliteConnection& db, std::string_view id, UnixMicros now) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT revoked_at IS NOT NULL, expires_at <= ?2,"
                              " max_access_count > 0 AND access_count >= max_access_count"
                              " FROM shares WHERE id = ?1"));
  st.BindText(1, id);
  st.BindInt(2, now);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return NotFoundError("share not found");
  }
  if (st.ColumnInt(0) != 0) {
    return GoneError("this share link was revoked");
  }
  if (st.ColumnInt(1) != 0) {
    return GoneError("this share link has expired");
  }
  return GoneError("this share link has no accesses left");
}

// Whether version `version` of secret `secret_id` exists.
StatusOr<bool> VersionExists(SqliteConnection& db, std::string_view secret_id, int64_t version) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT 1 FROM secret_versions"
                                                  " WHERE secret_id = ?1 AND version = ?2"));
  st.BindText(1, secret_id);
  st.BindInt(2, version);
  return st.Step();
}

}  // namespace

Status SqliteStoreImpl::InsertShare(const Share& share, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool exists, VersionExists(db, share.secret_id, share.version));
    if (!exists) {
      return NotFoundError(VersionNotFound(share.version));
    }
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO shares (id, token_hmac, secret_id, version,"
                                " recipient_type, expires_at, max_access_count, access_count,"
                                " created_by, created_at, revoked_at, pepper_ids)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, " +
                                PepperIdsOrActiveSql("?12") + ")"));
    st.BindText(1, share.id);
    st.BindBlob(2, share.token_hmac);
    st.BindText(3, share.secret_id);
    st.BindInt(4, share.version);
    st.BindText(5, share.recipient_type);
    st.BindInt(6, share.expires_at);
    st.BindInt(7, share.max_access_count);
    st.BindInt(8, share.access_count);
    st.BindText(9, share.created_by);
    st.BindInt(10, share.created_at);
    st.BindOptionalInt(11, share.revoked_at);
    st.BindText(12, FormatPepperIds(share.pepper_ids));
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a share with this id or token exists");
  });
}

StatusOr<Share> SqliteStoreImpl::GetShareByToken(const std::vector<uint8_t>& token_hmac) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kShareColumnsSql) + " WHERE h.token_hmac = ?1"));
  st.BindBlob(1, token_hmac);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("share not found"));
  }
  return ReadShare(st);
}

StatusOr<Share> SqliteStoreImpl::GetShare(std::string_view id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kShareColumnsSql) + " WHERE h.id = ?1"));
  st.BindText(1, id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("share not found"));
  }
  return ReadShare(st);
}

StatusOr<std::vector<Share>> SqliteStoreImpl::ListSharesByCreator(std::string_view created_by) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kShareColumnsSql) +
                               " WHERE h.created_by = ?1 ORDER BY h.created_at, h.rowid"));
  st.BindText(1, created_by);
  return ReadAll<Share>(st, ReadShare);
}

Status SqliteStoreImpl::RevokeShare(std::string_view id, UnixMicros at, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    // COALESCE keeps the first revocation's time.
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE shares SET revoked_at = COALESCE(revoked_at, ?2)"
                                " WHERE id = ?1 RETURNING 1"));
    st.BindText(1, id);
    st.BindInt(2, at);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    return row ? OkStatus() : NotFoundError("share not found");
  });
}

StatusOr<int64_t> SqliteStoreImpl::ConsumeShareAccess(std::string_view id, UnixMicros now,
                                                      const AuditEvent* audit) {
  int64_t count = 0;
  RETURN_IF_ERROR(Write(audit, [&](SqliteConnection& db, AuditEvent* event) -> Status {
    std::string secret_id;
    int64_t version = 0;
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE shares SET access_count = access_count + 1"
                                  " WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2"
                                  " AND (max_access_count = 0 OR access_count < max_access_count)"
                                  " RETURNING access_count, secret_id, version"));
      st.BindText(1, id);
      st.BindInt(2, now);
      ASSIGN_OR_RETURN(const bool updated, st.Step());
      if (!updated) {
        return WhyShareRefused(db, id, now);
      }
      count = st.ColumnInt(0);
      secret_id = st.ColumnText(1);
      version = st.ColumnInt(2);
    }
    // The version's own rules hold for a link too: enabled, unexpired, and a read limit is
    // spent by this access as by any read. A refusal here rolls the share's count back.
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("UPDATE secret_versions SET access_count = access_count +"
                   " (CASE WHEN max_access_count > 0 THEN 1 ELSE 0 END)"
                   " WHERE secret_id = ?1 AND version = ?2 AND disabled_at IS NULL"
                   " AND (expires_at IS NULL OR expires_at > ?3)"
                   " AND (max_access_count = 0 OR access_count < max_access_count) RETURNING 1"));
    st.BindText(1, secret_id);
    st.BindInt(2, version);
    st.BindInt(3, now);
    ASSIGN_OR_RETURN(const bool counted, st.Step());
    if (!counted) {
      ASSIGN_OR_RETURN(const bool exists, VersionExists(db, secret_id, version));
      return exists ? GoneError("the shared version can no longer be read")
                    : NotFoundError("the shared secret no longer exists");
    }
    if (event != nullptr) {
      event->version = version;
    }
    return OkStatus();
  }));
  return count;
}

}  // namespace coffer::sqlite_store_internal
