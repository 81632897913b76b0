// PostgresStoreImpl's share links: inserted beside the version they name, found by the HMAC of
// their token, listed by creator, revoked, and counted (ConsumeShareAccess) under the share's
// and the version's row locks, so no server ever grants an access past either limit.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

// The columns ReadShare() expects, from `shares AS h` joined with `secrets AS s`.
constexpr std::string_view kShareColumnsSql =
    "SELECT h.id, h.token_hmac, h.secret_id, h.version, s.vault_id, s.path, h.recipient_type,"
    " h.expires_at, h.max_access_count, h.access_count, h.created_by, h.created_at,"
    " h.revoked_at, h.pepper_ids FROM shares AS h JOIN secrets AS s ON s.id = h.secret_id";

Share ReadShare(const PgResult& r, int row) {
  Share h;
  h.id = r.Text(row, 0);
  h.token_hmac = r.Bytes(row, 1);
  h.secret_id = r.Text(row, 2);
  h.version = r.Int(row, 3);
  h.vault_id = r.Text(row, 4);
  h.path = r.Text(row, 5);
  h.recipient_type = r.Text(row, 6);
  h.expires_at = r.Int(row, 7);
  h.max_access_count = r.Int(row, 8);
  h.access_count = r.Int(row, 9);
  h.created_by = r.Text(row, 10);
  h.created_at = r.Int(row, 11);
  h.revoked_at = r.OptionalInt(row, 12);
  h.pepper_ids = ParsePepperIds(r.Text(row, 13));
  return h;
}

// Why ConsumeShareAccess counted nothing, read in its transaction.
Status WhyShareRefused(PgConnection& conn, std::string_view id, UnixMicros now) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT revoked_at IS NOT NULL, expires_at <= $2,"
                             " max_access_count > 0 AND access_count >= max_access_count"
                             " FROM shares WHERE id = $1",
                             PgParams().Text(id).Int(now)));
  if (r.rows() == 0) {
    return NotFoundError("share not found");
  }
  if (r.Bool(0, 0)) {
    return GoneError("this share link was revoked");
  }
  if (r.Bool(0, 1)) {
    return GoneError("this share link has expired");
  }
  return GoneError("this share link has no accesses left");
}

}  // namespace

Status PostgresStoreImpl::InsertShare(const Share& share, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO shares (id, token_hmac, secret_id, version, recipient_type, expires_at,"
        " max_access_count, access_count, created_by, created_at, revoked_at, pepper_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, " +
            PepperIdsOrActiveSql("$12") + ")",
        PgParams()
            .Text(share.id)
            .Bytes(share.token_hmac)
            .Text(share.secret_id)
            .Int(share.version)
            .Text(share.recipient_type)
            .Int(share.expires_at)
            .Int(share.max_access_count)
            .Int(share.access_count)
            .Text(share.created_by)
            .Int(share.created_at)
            .OptionalInt(share.revoked_at)
            .Text(FormatPepperIds(share.pepper_ids)));
    // A foreign key violation (no such version) reads as kNotFound.
    return Reword(Reword(std::move(s), StatusCode::kNotFound, VersionNotFound(share.version)),
                  StatusCode::kAlreadyExists, "a share with this id or token exists");
  });
}

StatusOr<Share> PostgresStoreImpl::GetShareByToken(const std::vector<uint8_t>& token_hmac) {
  return Read([&](PgConnection& conn) -> StatusOr<Share> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(kShareColumnsSql) + " WHERE h.token_hmac = $1",
                               PgParams().Bytes(token_hmac)));
    if (r.rows() == 0) {
      return Err(NotFoundError("share not found"));
    }
    return ReadShare(r, 0);
  });
}

StatusOr<Share> PostgresStoreImpl::GetShare(std::string_view id) {
  return Read([&](PgConnection& conn) -> StatusOr<Share> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kShareColumnsSql) + " WHERE h.id = $1",
                                           PgParams().Text(id)));
    if (r.rows() == 0) {
      return Err(NotFoundError("share not found"));
    }
    return ReadShare(r, 0);
  });
}

StatusOr<std::vector<Share>> PostgresStoreImpl::ListSharesByCreator(std::string_view created_by) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<Share>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(kShareColumnsSql) +
                                   " WHERE h.created_by = $1 ORDER BY h.created_at, h.ord",
                               PgParams().Text(created_by)));
    return ReadAll<Share>(r, ReadShare);
  });
}

Status PostgresStoreImpl::RevokeShare(std::string_view id, UnixMicros at, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // COALESCE keeps the first revocation's time.
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE shares SET revoked_at = COALESCE(revoked_at, $2)"
                                           " WHERE id = $1",
                                           PgParams().Text(id).Int(at)));
    return r.affected() > 0 ? OkStatus() : NotFoundError("share not found");
  });
}

StatusOr<int64_t> PostgresStoreImpl::ConsumeShareAccess(std::string_view id, UnixMicros now,
                                                        const AuditEvent* audit) {
  int64_t count = 0;
  RETURN_IF_ERROR(Write(audit, [&](PgConnection& conn, AuditEvent* event) -> Status {
    // Each UPDATE takes its row's lock and re-checks its WHERE clause on the latest row, so
    // concurrent accesses on every server count one after another.
    ASSIGN_OR_RETURN(PgResult shared,
                     conn.Exec("UPDATE shares SET access_count = access_count + 1"
                               " WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2"
                               " AND (max_access_count = 0 OR access_count < max_access_count)"
                               " RETURNING access_count, secret_id, version",
                               PgParams().Text(id).Int(now)));
    if (shared.rows() != 1) {
      return WhyShareRefused(conn, id, now);
    }
    count = shared.Int(0, 0);
    const std::string secret_id = shared.Text(0, 1);
    const int64_t version = shared.Int(0, 2);
    // The version's own rules hold for a link too; a refusal here rolls the share's count back.
    ASSIGN_OR_RETURN(
        PgResult counted,
        conn.Exec("UPDATE secret_versions SET access_count = access_count +"
                  " (CASE WHEN max_access_count > 0 THEN 1 ELSE 0 END)"
                  " WHERE secret_id = $1 AND version = $2 AND disabled_at IS NULL"
                  " AND (expires_at IS NULL OR expires_at > $3)"
                  " AND (max_access_count = 0 OR access_count < max_access_count) RETURNING 1",
                  PgParams().Text(secret_id).Int(version).Int(now)));
    if (counted.rows() != 1) {
      ASSIGN_OR_RETURN(PgResult exists,
                       conn.Exec("SELECT 1 FROM secret_versions WHERE secret_id = $1"
                                 " AND version = $2",
                                 PgParams().Text(secret_id).Int(version)));
      return exists.rows() > 0 ? GoneError("the shared version can no longer be read")
                               : NotFoundError("the shared secret no longer exists");
    }
    if (event != nullptr) {
      event->version = version;
    }
    return OkStatus();
  }));
  return count;
}

}  // namespace coffer::postgres_internal
