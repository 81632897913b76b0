// PostgresStoreImpl's rotation schedules (secret_schedules, one row per scheduled secret) and the
// announced expiry events of versions (secret_versions.expiry_events). Every claim is an UPDATE
// whose WHERE names the expected state: the row lock it takes makes concurrent claimers on any
// server wait, and READ COMMITTED re-checks the WHERE on the row the winner left, so exactly one
// claim of a due time (or of a pending disable, or of an event) succeeds.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

constexpr std::string_view kScheduleColumnsSql =
    "SELECT s.id, s.vault_id, s.path, c.policy_json, c.next_rotation_at, c.disable_version,"
    " c.disable_at FROM secret_schedules AS c JOIN secrets AS s ON s.id = c.secret_id";

SecretSchedule ReadSchedule(const PgResult& r, int row) {
  SecretSchedule s;
  s.secret_id = r.Text(row, 0);
  s.vault_id = r.Text(row, 1);
  s.path = r.Text(row, 2);
  s.policy_json = r.Text(row, 3);
  s.next_rotation_at = r.Int(row, 4);
  s.disable_version = r.Int(row, 5);
  s.disable_at = r.Int(row, 6);
  return s;
}

StatusOr<std::optional<SecretSchedule>> ScheduleOf(PgConnection& conn, std::string_view vault_id,
                                                   std::string_view path) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kScheduleColumnsSql) +
                                             " WHERE s.vault_id = $1 AND s.path = $2",
                                         PgParams().Text(vault_id).Text(path)));
  if (r.rows() == 0) {
    return std::optional<SecretSchedule>();
  }
  return std::optional<SecretSchedule>(ReadSchedule(r, 0));
}

StatusOr<std::optional<std::string>> SecretIdAt(PgConnection& conn, std::string_view vault_id,
                                                std::string_view path) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id FROM secrets WHERE vault_id = $1 AND path = $2",
                                         PgParams().Text(vault_id).Text(path)));
  if (r.rows() == 0) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(r.Text(0, 0));
}

Status Advance(PgConnection& conn, const ScheduleClaim& claim) {
  ASSIGN_OR_RETURN(
      PgResult r, conn.Exec("UPDATE secret_schedules SET next_rotation_at = $3"
                            " WHERE secret_id = $1 AND next_rotation_at = $2",
                            PgParams().Text(claim.secret_id).Int(claim.due_at).Int(claim.next_at)));
  if (r.affected() == 0) {
    return AbortedError("store: this due time of the schedule was taken or changed");
  }
  return OkStatus();
}

}  // namespace

Status TakeScheduleClaim(PgConnection& conn, const ScheduleClaim& claim,
                         const SecretVersion& header) {
  if (claim.secret_id != header.secret_id) {
    return AbortedError("store: the scheduled secret was replaced");
  }
  RETURN_IF_ERROR(Advance(conn, claim));
  if (claim.disable_previous_at.has_value() && header.version > 1) {
    RETURN_IF_ERROR(conn.Run(
        "UPDATE secret_schedules SET disable_version = $2, disable_at = $3 WHERE secret_id = $1",
        PgParams().Text(claim.secret_id).Int(header.version - 1).Int(*claim.disable_previous_at)));
  }
  return OkStatus();
}

StatusOr<SecretSchedule> PostgresStoreImpl::SetSecretSchedule(std::string_view vault_id,
                                                              std::string_view path,
                                                              std::string_view policy_json,
                                                              UnixMicros next_at,
                                                              const AuditEvent* audit) {
  SecretSchedule result;
  RETURN_IF_ERROR(Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const std::optional<std::string> id, SecretIdAt(conn, vault_id, path));
    if (!id.has_value()) {
      return NotFoundError("secret not found");
    }
    // A secret deleted meanwhile makes the INSERT fail on its foreign key: reported as gone.
    auto upserted = conn.Exec(
        "INSERT INTO secret_schedules (secret_id, policy_json, next_rotation_at)"
        " VALUES ($1, $2, $3) ON CONFLICT (secret_id) DO UPDATE SET"
        " policy_json = EXCLUDED.policy_json, next_rotation_at = EXCLUDED.next_rotation_at",
        PgParams().Text(*id).Text(policy_json).Int(next_at));
    if (!upserted.has_value()) {
      return Reword(upserted.error(), StatusCode::kNotFound, "secret not found");
    }
    ASSIGN_OR_RETURN(const std::optional<SecretSchedule> stored, ScheduleOf(conn, vault_id, path));
    if (!stored.has_value()) {
      return NotFoundError("secret not found");
    }
    result = *stored;
    return OkStatus();
  }));
  return result;
}

Status PostgresStoreImpl::DeleteSecretSchedule(std::string_view vault_id, std::string_view path,
                                               const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const std::optional<std::string> id, SecretIdAt(conn, vault_id, path));
    if (!id.has_value()) {
      return NotFoundError("secret not found");
    }
    return conn.Run("DELETE FROM secret_schedules WHERE secret_id = $1", PgParams().Text(*id));
  });
}

StatusOr<std::optional<SecretSchedule>> PostgresStoreImpl::GetSecretSchedule(
    std::string_view vault_id, std::string_view path) {
  return Read([&](PgConnection& conn) { return ScheduleOf(conn, vault_id, path); });
}

StatusOr<std::vector<SecretSchedule>> PostgresStoreImpl::ListDueSchedules(UnixMicros now,
                                                                          size_t limit) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<SecretSchedule>> {
    // Two index range scans (due rotations, due disables), merged and cut to `limit`.
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec(std::string(kScheduleColumnsSql) +
                      " WHERE c.secret_id IN (SELECT secret_id FROM secret_schedules"
                      "  WHERE next_rotation_at <= $1 ORDER BY next_rotation_at LIMIT $2)"
                      " OR c.secret_id IN (SELECT secret_id FROM secret_schedules"
                      "  WHERE disable_version <> 0 AND disable_at <= $1"
                      "  ORDER BY disable_at LIMIT $2)"
                      " ORDER BY LEAST(c.next_rotation_at, CASE WHEN c.disable_version <> 0"
                      "  THEN c.disable_at ELSE c.next_rotation_at END) LIMIT $2",
                  PgParams().Int(now).Int(static_cast<int64_t>(limit))));
    std::vector<SecretSchedule> out;
    out.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(ReadSchedule(r, i));
    }
    return out;
  });
}

Status PostgresStoreImpl::AdvanceSecretSchedule(const ScheduleClaim& claim,
                                                const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) { return Advance(conn, claim); });
}

Status PostgresStoreImpl::DisableScheduledVersion(std::string_view secret_id, int64_t version,
                                                  UnixMicros disable_at, UnixMicros at,
                                                  const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("UPDATE secret_schedules SET disable_version = 0, disable_at = 0"
                               " WHERE secret_id = $1 AND disable_version = $2 AND disable_at = $3",
                               PgParams().Text(secret_id).Int(version).Int(disable_at)));
    if (r.affected() == 0) {
      return AbortedError("store: this pending disable was done or changed");
    }
    return conn.Run(
        "UPDATE secret_versions SET disabled_at = COALESCE(disabled_at, $3)"
        " WHERE secret_id = $1 AND version = $2",
        PgParams().Text(secret_id).Int(version).Int(at));
  });
}

StatusOr<std::vector<SecretVersion>> PostgresStoreImpl::ListUnannouncedExpiries(
    ExpiryEvent event, UnixMicros expires_by, size_t limit) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<SecretVersion>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("SELECT " COFFER_PG_VERSION_COLUMNS
                               " FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id"
                               " WHERE v.expires_at IS NOT NULL AND v.disabled_at IS NULL"
                               " AND v.expiry_events <> 3 AND v.expires_at <= $1"
                               " AND (v.expiry_events & $2) = 0 ORDER BY v.expires_at LIMIT $3",
                               PgParams()
                                   .Int(expires_by)
                                   .Int(static_cast<int64_t>(event))
                                   .Int(static_cast<int64_t>(limit))));
    std::vector<SecretVersion> out;
    for (int i = 0; i < r.rows(); ++i) {
      ASSIGN_OR_RETURN(SecretVersion v, ReadVersion(r, i, /*with_ciphertext=*/false));
      out.push_back(std::move(v));
    }
    return out;
  });
}

Status PostgresStoreImpl::MarkExpiryAnnounced(std::string_view secret_id, int64_t version,
                                              ExpiryEvent event, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    const int64_t bit = static_cast<int64_t>(event);
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("UPDATE secret_versions SET expiry_events = expiry_events | $3"
                               " WHERE secret_id = $1 AND version = $2"
                               " AND (expiry_events & $3) = 0",
                               PgParams().Text(secret_id).Int(version).Int(bit)));
    if (r.affected() == 1) {
      return OkStatus();
    }
    ASSIGN_OR_RETURN(
        PgResult exists,
        conn.Exec("SELECT 1 FROM secret_versions WHERE secret_id = $1 AND version = $2",
                  PgParams().Text(secret_id).Int(version)));
    return exists.rows() > 0
               ? AbortedError("store: this event of the version was announced already")
               : NotFoundError("secret version not found");
  });
}

}  // namespace coffer::postgres_internal
