// SqliteStoreImpl's version lifecycle: aliases of a secret's versions (set, removed, promoted,
// rolled back), destroying versions (crypto-shredding), kept-version limits, and the helpers the
// secret writes of sqlite_secrets.cc share with them.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

Status SetAliasRow(SqliteConnection& db, std::string_view secret_id, std::string_view alias,
                   int64_t version) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("INSERT INTO secret_aliases (secret_id, alias, version)"
                              " VALUES (?1, ?2, ?3) ON CONFLICT (secret_id, alias)"
                              " DO UPDATE SET version = excluded.version"));
  st.BindText(1, secret_id);
  st.BindText(2, alias);
  st.BindInt(3, version);
  return st.Run();
}

StatusOr<bool> RemoveAliasRow(SqliteConnection& db, std::string_view secret_id,
                              std::string_view alias) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("DELETE FROM secret_aliases WHERE secret_id = ?1 AND alias = ?2"));
  st.BindText(1, secret_id);
  st.BindText(2, alias);
  RETURN_IF_ERROR(st.Run());
  return db.Changes() > 0;
}

// OK when version `version` of the secret exists and may be read: kNotFound, or
// kFailedPrecondition naming `alias` for a disabled or destroyed one.
Status CheckAliasTarget(SqliteConnection& db, std::string_view secret_id, int64_t version,
                        std::string_view alias) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT disabled_at IS NOT NULL, destroyed_at IS NOT NULL"
                              " FROM secret_versions WHERE secret_id = ?1 AND version = ?2"));
  st.BindText(1, secret_id);
  st.BindInt(2, version);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return NotFoundError(VersionNotFound(version));
  }
  return AliasTargetRefusal(version, alias, st.ColumnInt(0) != 0, st.ColumnInt(1) != 0);
}

// Promote (from `pending`, to_old `previous`) or rollback (from `previous`, to_old `pending`).
StatusOr<std::map<std::string, int64_t>> MoveCurrent(SqliteConnection& db,
                                                     std::string_view secret_id,
                                                     std::string_view from, std::string_view to_old,
                                                     AuditEvent* event) {
  ASSIGN_OR_RETURN(auto aliases, LoadAliases(db, secret_id));
  const auto source = aliases.find(std::string(from));
  if (source == aliases.end()) {
    return Err(FailedPreconditionError(NoAliasToMove(from)));
  }
  const int64_t target = source->second;
  RETURN_IF_ERROR(CheckAliasTarget(db, secret_id, target, from));
  std::optional<int64_t> old_current;
  if (auto c = aliases.find(std::string(kAliasCurrent)); c != aliases.end()) {
    old_current = c->second;
  } else {
    ASSIGN_OR_RETURN(old_current, LatestEnabledVersion(db, secret_id));
  }
  RETURN_IF_ERROR(SetAliasRow(db, secret_id, kAliasCurrent, target));
  ASSIGN_OR_RETURN(const bool removed, RemoveAliasRow(db, secret_id, from));
  (void)removed;
  if (old_current.has_value() && *old_current != target) {
    RETURN_IF_ERROR(SetAliasRow(db, secret_id, to_old, *old_current));
  }
  if (event != nullptr) {
    event->version = target;
  }
  return LoadAliases(db, secret_id);
}

}  // namespace

StatusOr<std::string> SecretIdAt(SqliteConnection& db, std::string_view vault_id,
                                 std::string_view path) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT id FROM secrets WHERE vault_id = ?1 AND path = ?2"));
  st.BindText(1, vault_id);
  st.BindText(2, path);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("secret not found"));
  }
  return st.ColumnText(0);
}

// --- helpers of the secret writes -------------------------------------------------------------

StatusOr<std::map<std::string, int64_t>> LoadAliases(SqliteConnection& db,
                                                     std::string_view secret_id) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT alias, version FROM secret_aliases WHERE secret_id = ?1"));
  st.BindText(1, secret_id);
  std::map<std::string, int64_t> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return out;
    }
    out[st.ColumnText(0)] = st.ColumnInt(1);
  }
}

StatusOr<std::optional<int64_t>> LatestEnabledVersion(SqliteConnection& db,
                                                      std::string_view secret_id) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT version FROM secret_versions WHERE secret_id = ?1"
                              " AND disabled_at IS NULL ORDER BY version DESC LIMIT 1"));
  st.BindText(1, secret_id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(st.ColumnInt(0));
}

Status MoveAliasesForWrite(SqliteConnection& db, std::string_view secret_id, int64_t version,
                           bool stage_pending, std::optional<int64_t> readable_before) {
  ASSIGN_OR_RETURN(auto aliases, LoadAliases(db, secret_id));
  const auto current = aliases.find(std::string(kAliasCurrent));
  if (stage_pending) {
    if (current == aliases.end() && readable_before.has_value()) {
      // Pin what plain reads returned, so the staged version is not served before its promotion.
      RETURN_IF_ERROR(SetAliasRow(db, secret_id, kAliasCurrent, *readable_before));
    }
    return SetAliasRow(db, secret_id, kAliasPending, version);
  }
  if (current == aliases.end()) {
    return OkStatus();
  }
  RETURN_IF_ERROR(SetAliasRow(db, secret_id, kAliasPrevious, current->second));
  return SetAliasRow(db, secret_id, kAliasCurrent, version);
}

Status DestroyVersionRow(SqliteConnection& db, std::string_view secret_id, int64_t version,
                         UnixMicros at) {
  {
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE secret_versions SET ciphertext = x'',"
                                                    " destroyed_at = COALESCE(destroyed_at, ?3),"
                                                    " disabled_at = COALESCE(disabled_at, ?3)"
                                                    " WHERE secret_id = ?1 AND version = ?2"));
    st.BindText(1, secret_id);
    st.BindInt(2, version);
    st.BindInt(3, at);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError(VersionNotFound(version));
    }
  }
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("DELETE FROM secret_aliases WHERE secret_id = ?1 AND version = ?2"));
  st.BindText(1, secret_id);
  st.BindInt(2, version);
  return st.Run();
}

StatusOr<std::vector<int64_t>> ApplyRetention(SqliteConnection& db, std::string_view secret_id,
                                              UnixMicros at) {
  int64_t limit = 0;
  {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("SELECT s.max_versions, v.max_versions FROM secrets AS s"
                                " JOIN vaults AS v ON v.id = s.vault_id WHERE s.id = ?1"));
    st.BindText(1, secret_id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("secret not found"));
    }
    limit = KeptVersionLimit(st.ColumnInt(0), st.ColumnInt(1));
  }
  std::vector<int64_t> destroyed;
  if (limit == 0) {
    return destroyed;
  }
  ASSIGN_OR_RETURN(auto aliases, LoadAliases(db, secret_id));
  std::vector<int64_t> live;
  {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("SELECT version FROM secret_versions WHERE secret_id = ?1"
                                " AND destroyed_at IS NULL ORDER BY version"));
    st.BindText(1, secret_id);
    ASSIGN_OR_RETURN(live, ReadAll<int64_t>(st, [](const SqliteStatement& row) -> int64_t {
                       return row.ColumnInt(0);
                     }));
  }
  for (const int64_t version : RetentionVictims(live, aliases, limit)) {
    RETURN_IF_ERROR(DestroyVersionRow(db, secret_id, version, at));
    destroyed.push_back(version);
  }
  return destroyed;
}

// --- vault limits ------------------------------------------------------------------------------

Status SqliteStoreImpl::SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions,
                                            const AuditEvent* audit) {
  if (max_versions < 0) {
    return InvalidArgumentError("max_versions must not be negative");
  }
  const StoreChange change = StoreChange::Vault(std::string(vault_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE vaults SET max_versions = ?2 WHERE id = ?1"));
    st.BindText(1, vault_id);
    st.BindInt(2, max_versions);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError("vault not found");
    }
    return OkStatus();
  });
}

// --- aliases -----------------------------------------------------------------------------------

StatusOr<std::map<std::string, int64_t>> SqliteStoreImpl::SetSecretAlias(std::string_view vault_id,
                                                                         std::string_view path,
                                                                         std::string_view alias,
                                                                         int64_t version,
                                                                         const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
                              [&](SqliteConnection& db, AuditEvent* event) -> Status {
                                ASSIGN_OR_RETURN(const std::string id,
                                                 SecretIdAt(db, vault_id, path));
                                RETURN_IF_ERROR(CheckAliasTarget(db, id, version, alias));
                                RETURN_IF_ERROR(SetAliasRow(db, id, alias, version));
                                if (event != nullptr) {
                                  event->version = version;
                                }
                                ASSIGN_OR_RETURN(out, LoadAliases(db, id));
                                return OkStatus();
                              }));
  return out;
}

StatusOr<std::map<std::string, int64_t>> SqliteStoreImpl::DeleteSecretAlias(
    std::string_view vault_id, std::string_view path, std::string_view alias,
    const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
                              [&](SqliteConnection& db, AuditEvent*) -> Status {
                                ASSIGN_OR_RETURN(const std::string id,
                                                 SecretIdAt(db, vault_id, path));
                                ASSIGN_OR_RETURN(const bool removed, RemoveAliasRow(db, id, alias));
                                if (!removed) {
                                  return NotFoundError(AliasNotSet(alias));
                                }
                                ASSIGN_OR_RETURN(out, LoadAliases(db, id));
                                return OkStatus();
                              }));
  return out;
}

StatusOr<std::map<std::string, int64_t>> SqliteStoreImpl::PromoteSecret(std::string_view vault_id,
                                                                        std::string_view path,
                                                                        const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(
      StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
      [&](SqliteConnection& db, AuditEvent* event) -> Status {
        ASSIGN_OR_RETURN(const std::string id, SecretIdAt(db, vault_id, path));
        ASSIGN_OR_RETURN(out, MoveCurrent(db, id, kAliasPending, kAliasPrevious, event));
        return OkStatus();
      }));
  return out;
}

StatusOr<std::map<std::string, int64_t>> SqliteStoreImpl::RollbackSecret(std::string_view vault_id,
                                                                         std::string_view path,
                                                                         const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(
      StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
      [&](SqliteConnection& db, AuditEvent* event) -> Status {
        ASSIGN_OR_RETURN(const std::string id, SecretIdAt(db, vault_id, path));
        ASSIGN_OR_RETURN(out, MoveCurrent(db, id, kAliasPrevious, kAliasPending, event));
        return OkStatus();
      }));
  return out;
}

Status SqliteStoreImpl::ImportSecretAlias(std::string_view secret_id, std::string_view alias,
                                          int64_t version) {
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("SELECT 1 FROM secret_versions WHERE secret_id = ?1"
                                " AND version = ?2"));
    st.BindText(1, secret_id);
    st.BindInt(2, version);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return NotFoundError(VersionNotFound(version));
    }
    return SetAliasRow(db, secret_id, alias, version);
  });
}

}  // namespace coffer::sqlite_store_internal
