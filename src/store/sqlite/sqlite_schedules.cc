// SqliteStoreImpl's rotation schedules (secret_schedules, one row per scheduled secret) and the
// announced expiry events of versions (secret_versions.expiry_events). One writer thread runs
// every write, so a claim's compare (next_rotation_at = due) and its update are never split.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

constexpr std::string_view kScheduleColumnsSql =
    "SELECT s.id, s.vault_id, s.path, c.policy_json, c.next_rotation_at, c.disable_version,"
    " c.disable_at FROM secret_schedules AS c JOIN secrets AS s ON s.id = c.secret_id";

SecretSchedule ReadSchedule(const SqliteStatement& st) {
  SecretSchedule s;
  s.secret_id = st.ColumnText(0);
  s.vault_id = st.ColumnText(1);
  s.path = st.ColumnText(2);
  s.policy_json = st.ColumnText(3);
  s.next_rotation_at = st.ColumnInt(4);
  s.disable_version = st.ColumnInt(5);
  s.disable_at = st.ColumnInt(6);
  return s;
}

StatusOr<std::optional<SecretSchedule>> ScheduleOf(SqliteConnection& db, std::string_view vault_id,
                                                   std::string_view path) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(std::string(kScheduleColumnsSql) +
                                                  " WHERE s.vault_id = ?1 AND s.path = ?2"));
  st.BindText(1, vault_id);
  st.BindText(2, path);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return std::optional<SecretSchedule>();
  }
  return std::optional<SecretSchedule>(ReadSchedule(st));
}

// next_rotation_at moves from claim.due_at to claim.next_at, or kAborted.
Status Advance(SqliteConnection& db, const ScheduleClaim& claim) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("UPDATE secret_schedules SET next_rotation_at = ?3"
                              " WHERE secret_id = ?1 AND next_rotation_at = ?2"));
  st.BindText(1, claim.secret_id);
  st.BindInt(2, claim.due_at);
  st.BindInt(3, claim.next_at);
  RETURN_IF_ERROR(st.Run());
  if (db.Changes() == 0) {
    return AbortedError("store: this due time of the schedule was taken or changed");
  }
  return OkStatus();
}

}  // namespace

Status TakeScheduleClaim(SqliteConnection& db, const ScheduleClaim& claim,
                         const SecretVersion& header) {
  if (claim.secret_id != header.secret_id) {
    return AbortedError("store: the scheduled secret was replaced");
  }
  RETURN_IF_ERROR(Advance(db, claim));
  if (claim.disable_previous_at.has_value() && header.version > 1) {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE secret_schedules SET disable_version = ?2,"
                                " disable_at = ?3 WHERE secret_id = ?1"));
    st.BindText(1, claim.secret_id);
    st.BindInt(2, header.version - 1);
    st.BindInt(3, *claim.disable_previous_at);
    RETURN_IF_ERROR(st.Run());
  }
  return OkStatus();
}

StatusOr<SecretSchedule> SqliteStoreImpl::SetSecretSchedule(std::string_view vault_id,
                                                            std::string_view path,
                                                            std::string_view policy_json,
                                                            UnixMicros next_at,
                                                            const AuditEvent* audit) {
  SecretSchedule result;
  RETURN_IF_ERROR(Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const std::string id, SecretIdAt(db, vault_id, path));
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO secret_schedules (secret_id, policy_json,"
                                  " next_rotation_at) VALUES (?1, ?2, ?3)"
                                  " ON CONFLICT (secret_id) DO UPDATE SET"
                                  " policy_json = excluded.policy_json,"
                                  " next_rotation_at = excluded.next_rotation_at"));
      st.BindText(1, id);
      st.BindText(2, policy_json);
      st.BindInt(3, next_at);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(const std::optional<SecretSchedule> stored, ScheduleOf(db, vault_id, path));
    if (!stored.has_value()) {
      return InternalError("store: a schedule just written is missing");
    }
    result = *stored;
    return OkStatus();
  }));
  return result;
}

Status SqliteStoreImpl::DeleteSecretSchedule(std::string_view vault_id, std::string_view path,
                                             const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const std::string id, SecretIdAt(db, vault_id, path));
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("DELETE FROM secret_schedules WHERE secret_id = ?1"));
    st.BindText(1, id);
    return st.Run();
  });
}

StatusOr<std::optional<SecretSchedule>> SqliteStoreImpl::GetSecretSchedule(
    std::string_view vault_id, std::string_view path) {
  auto db = readers_->Acquire();
  return ScheduleOf(*db, vault_id, path);
}

StatusOr<std::vector<SecretSchedule>> SqliteStoreImpl::ListDueSchedules(UnixMicros now,
                                                                        size_t limit) {
  auto db = readers_->Acquire();
  // Two index range scans (due rotations, due disables), merged and cut to `limit`.
  ASSIGN_OR_RETURN(
      SqliteStatement st,
      db->Prepare(std::string(kScheduleColumnsSql) +
                  " WHERE c.secret_id IN (SELECT secret_id FROM secret_schedules"
                  "  WHERE next_rotation_at <= ?1 ORDER BY next_rotation_at LIMIT ?2)"
                  " OR c.secret_id IN (SELECT secret_id FROM secret_schedules"
                  "  WHERE disable_version <> 0 AND disable_at <= ?1 ORDER BY disable_at LIMIT ?2)"
                  " ORDER BY min(c.next_rotation_at, CASE WHEN c.disable_version <> 0"
                  "  THEN c.disable_at ELSE c.next_rotation_at END) LIMIT ?2"));
  st.BindInt(1, now);
  st.BindInt(2, static_cast<int64_t>(limit));
  return ReadAll<SecretSchedule>(st, ReadSchedule);
}

Status SqliteStoreImpl::AdvanceSecretSchedule(const ScheduleClaim& claim, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) { return Advance(db, claim); });
}

Status SqliteStoreImpl::DisableScheduledVersion(std::string_view secret_id, int64_t version,
                                                UnixMicros disable_at, UnixMicros at,
                                                const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE secret_schedules SET disable_version = 0,"
                                  " disable_at = 0 WHERE secret_id = ?1"
                                  " AND disable_version = ?2 AND disable_at = ?3"));
      st.BindText(1, secret_id);
      st.BindInt(2, version);
      st.BindInt(3, disable_at);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return AbortedError("store: this pending disable was done or changed");
      }
    }
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("UPDATE secret_versions SET disabled_at ="
                   " COALESCE(disabled_at, ?3) WHERE secret_id = ?1 AND version = ?2"));
    st.BindText(1, secret_id);
    st.BindInt(2, version);
    st.BindInt(3, at);
    return st.Run();
  });
}

StatusOr<std::vector<SecretVersion>> SqliteStoreImpl::ListUnannouncedExpiries(ExpiryEvent event,
                                                                              UnixMicros expires_by,
                                                                              size_t limit) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare("SELECT s.id, s.vault_id, s.path, v.version, v.type, v.expires_at,"
                               " v.created_at, v.created_by FROM secret_versions AS v"
                               " JOIN secrets AS s ON s.id = v.secret_id"
                               " WHERE v.expires_at IS NOT NULL AND v.disabled_at IS NULL"
                               " AND v.expiry_events <> 3 AND v.expires_at <= ?1"
                               " AND (v.expiry_events & ?2) = 0 ORDER BY v.expires_at LIMIT ?3"));
  st.BindInt(1, expires_by);
  st.BindInt(2, static_cast<int64_t>(event));
  st.BindInt(3, static_cast<int64_t>(limit));
  return ReadAll<SecretVersion>(st, [](const SqliteStatement& row) -> StatusOr<SecretVersion> {
    SecretVersion v;
    v.secret_id = row.ColumnText(0);
    v.vault_id = row.ColumnText(1);
    v.path = row.ColumnText(2);
    v.version = row.ColumnInt(3);
    const std::optional<SecretType> type = ParseSecretType(row.ColumnText(4));
    if (!type.has_value()) {
      return Err(DataLossError("store: a secret version has an unknown type"));
    }
    v.type = *type;
    v.expires_at = row.ColumnOptionalInt(5);
    v.created_at = row.ColumnInt(6);
    v.created_by = row.ColumnText(7);
    return v;
  });
}

Status SqliteStoreImpl::MarkExpiryAnnounced(std::string_view secret_id, int64_t version,
                                            ExpiryEvent event, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    const int64_t bit = static_cast<int64_t>(event);
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE secret_versions SET expiry_events = expiry_events | ?3"
                                " WHERE secret_id = ?1 AND version = ?2"
                                " AND (expiry_events & ?3) = 0"));
    st.BindText(1, secret_id);
    st.BindInt(2, version);
    st.BindInt(3, bit);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 1) {
      return OkStatus();
    }
    ASSIGN_OR_RETURN(SqliteStatement exists,
                     db.Prepare("SELECT 1 FROM secret_versions WHERE secret_id = ?1"
                                " AND version = ?2"));
    exists.BindText(1, secret_id);
    exists.BindInt(2, version);
    ASSIGN_OR_RETURN(const bool row, exists.Step());
    return row ? AbortedError("store: this event of the version was announced already")
               : NotFoundError("secret version not found");
  });
}

}  // namespace coffer::sqlite_store_internal
