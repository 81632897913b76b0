// PostgresStoreImpl's version lifecycle: aliases of a secret's versions (set, removed, promoted,
// rolled back) under the secret's row lock so that no two changes of one secret interleave on
// any server, destroying versions (crypto-shredding), kept-version limits, and the helpers the
// secret writes of postgres_secrets.cc share with them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

// The secret's id, its row locked until the transaction ends. kNotFound.
StatusOr<std::string> LockSecretAt(PgConnection& conn, std::string_view vault_id,
                                   std::string_view path) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id FROM secrets WHERE vault_id = $1 AND path = $2"
                                         " FOR UPDATE",
                                         PgParams().Text(vault_id).Text(path)));
  if (r.rows() == 0) {
    return Err(NotFoundError("secret not found"));
  }
  return r.Text(0, 0);
}

Status SetAliasRow(PgConnection& conn, std::string_view secret_id, std::string_view alias,
                   int64_t version) {
  return conn.Run(
      "INSERT INTO secret_aliases (secret_id, alias, version) VALUES ($1, $2, $3)"
      " ON CONFLICT (secret_id, alias) DO UPDATE SET version = excluded.version",
      PgParams().Text(secret_id).Text(alias).Int(version));
}

StatusOr<bool> RemoveAliasRow(PgConnection& conn, std::string_view secret_id,
                              std::string_view alias) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("DELETE FROM secret_aliases WHERE secret_id = $1 AND alias = $2",
                             PgParams().Text(secret_id).Text(alias)));
  return r.affected() > 0;
}

Status CheckAliasTarget(PgConnection& conn, std::string_view secret_id, int64_t version,
                        std::string_view alias) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT disabled_at IS NOT NULL, destroyed_at IS NOT NULL"
                                         " FROM secret_versions WHERE secret_id = $1"
                                         " AND version = $2",
                                         PgParams().Text(secret_id).Int(version)));
  if (r.rows() == 0) {
    return NotFoundError(VersionNotFound(version));
  }
  return AliasTargetRefusal(version, alias, r.Bool(0, 0), r.Bool(0, 1));
}

// Promote (from `pending`, to_old `previous`) or rollback (from `previous`, to_old `pending`).
// REQUIRES: the secret's row is locked.
StatusOr<std::map<std::string, int64_t>> MoveCurrent(PgConnection& conn, std::string_view secret_id,
                                                     std::string_view from, std::string_view to_old,
                                                     AuditEvent* event) {
  ASSIGN_OR_RETURN(auto aliases, LoadAliases(conn, secret_id));
  const auto source = aliases.find(std::string(from));
  if (source == aliases.end()) {
    return Err(FailedPreconditionError(NoAliasToMove(from)));
  }
  const int64_t target = source->second;
  RETURN_IF_ERROR(CheckAliasTarget(conn, secret_id, target, from));
  std::optional<int64_t> old_current;
  if (auto c = aliases.find(std::string(kAliasCurrent)); c != aliases.end()) {
    old_current = c->second;
  } else {
    ASSIGN_OR_RETURN(old_current, LatestEnabledVersion(conn, secret_id));
  }
  RETURN_IF_ERROR(SetAliasRow(conn, secret_id, kAliasCurrent, target));
  ASSIGN_OR_RETURN(const bool removed, RemoveAliasRow(conn, secret_id, from));
  (void)removed;
  if (old_current.has_value() && *old_current != target) {
    RETURN_IF_ERROR(SetAliasRow(conn, secret_id, to_old, *old_current));
  }
  if (event != nullptr) {
    event->version = target;
  }
  return LoadAliases(conn, secret_id);
}

}  // namespace

// --- helpers of the secret writes -------------------------------------------------------------

StatusOr<std::map<std::string, int64_t>> LoadAliases(PgConnection& conn,
                                                     std::string_view secret_id) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT alias, version FROM secret_aliases WHERE secret_id = $1",
                             PgParams().Text(secret_id)));
  std::map<std::string, int64_t> out;
  for (int row = 0; row < r.rows(); ++row) {
    out[r.Text(row, 0)] = r.Int(row, 1);
  }
  return out;
}

StatusOr<std::optional<int64_t>> LatestEnabledVersion(PgConnection& conn,
                                                      std::string_view secret_id) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT version FROM secret_versions WHERE secret_id = $1"
                                         " AND disabled_at IS NULL ORDER BY version DESC LIMIT 1",
                                         PgParams().Text(secret_id)));
  if (r.rows() == 0) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(r.Int(0, 0));
}

Status MoveAliasesForWrite(PgConnection& conn, std::string_view secret_id, int64_t version,
                           bool stage_pending, std::optional<int64_t> readable_before) {
  ASSIGN_OR_RETURN(auto aliases, LoadAliases(conn, secret_id));
  const auto current = aliases.find(std::string(kAliasCurrent));
  if (stage_pending) {
    if (current == aliases.end() && readable_before.has_value()) {
      // Pin what plain reads returned, so the staged version is not served before its promotion.
      RETURN_IF_ERROR(SetAliasRow(conn, secret_id, kAliasCurrent, *readable_before));
    }
    return SetAliasRow(conn, secret_id, kAliasPending, version);
  }
  if (current == aliases.end()) {
    return OkStatus();
  }
  RETURN_IF_ERROR(SetAliasRow(conn, secret_id, kAliasPrevious, current->second));
  return SetAliasRow(conn, secret_id, kAliasCurrent, version);
}

Status DestroyVersionRow(PgConnection& conn, std::string_view secret_id, int64_t version,
                         UnixMicros at) {
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE secret_versions SET ciphertext = ''::bytea,"
                                         " destroyed_at = COALESCE(destroyed_at, $3),"
                                         " disabled_at = COALESCE(disabled_at, $3)"
                                         " WHERE secret_id = $1 AND version = $2",
                                         PgParams().Text(secret_id).Int(version).Int(at)));
  if (r.affected() == 0) {
    return NotFoundError(VersionNotFound(version));
  }
  return conn.Run("DELETE FROM secret_aliases WHERE secret_id = $1 AND version = $2",
                  PgParams().Text(secret_id).Int(version));
}

StatusOr<std::vector<int64_t>> ApplyRetention(PgConnection& conn, std::string_view secret_id,
                                              UnixMicros at) {
  ASSIGN_OR_RETURN(PgResult limits,
                   conn.Exec("SELECT s.max_versions, v.max_versions FROM secrets AS s"
                             " JOIN vaults AS v ON v.id = s.vault_id WHERE s.id = $1",
                             PgParams().Text(secret_id)));
  if (limits.rows() == 0) {
    return Err(NotFoundError("secret not found"));
  }
  const int64_t limit = KeptVersionLimit(limits.Int(0, 0), limits.Int(0, 1));
  std::vector<int64_t> destroyed;
  if (limit == 0) {
    return destroyed;
  }
  ASSIGN_OR_RETURN(auto aliases, LoadAliases(conn, secret_id));
  ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT version FROM secret_versions WHERE secret_id = $1"
                                         " AND destroyed_at IS NULL ORDER BY version",
                                         PgParams().Text(secret_id)));
  std::vector<int64_t> live;
  for (int row = 0; row < r.rows(); ++row) {
    live.push_back(r.Int(row, 0));
  }
  for (const int64_t version : RetentionVictims(live, aliases, limit)) {
    RETURN_IF_ERROR(DestroyVersionRow(conn, secret_id, version, at));
    destroyed.push_back(version);
  }
  return destroyed;
}

// --- vault limits ------------------------------------------------------------------------------

Status PostgresStoreImpl::SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions,
                                              const AuditEvent* audit) {
  if (max_versions < 0) {
    return InvalidArgumentError("max_versions must not be negative");
  }
  const StoreChange change = StoreChange::Vault(std::string(vault_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE vaults SET max_versions = $2 WHERE id = $1",
                                           PgParams().Text(vault_id).Int(max_versions)));
    if (r.affected() == 0) {
      return NotFoundError("vault not found");
    }
    return OkStatus();
  });
}

// --- aliases -----------------------------------------------------------------------------------

StatusOr<std::map<std::string, int64_t>> PostgresStoreImpl::SetSecretAlias(
    std::string_view vault_id, std::string_view path, std::string_view alias, int64_t version,
    const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
                              [&](PgConnection& conn, AuditEvent* event) -> Status {
                                ASSIGN_OR_RETURN(const std::string id,
                                                 LockSecretAt(conn, vault_id, path));
                                RETURN_IF_ERROR(CheckAliasTarget(conn, id, version, alias));
                                RETURN_IF_ERROR(SetAliasRow(conn, id, alias, version));
                                if (event != nullptr) {
                                  event->version = version;
                                }
                                ASSIGN_OR_RETURN(out, LoadAliases(conn, id));
                                return OkStatus();
                              }));
  return out;
}

StatusOr<std::map<std::string, int64_t>> PostgresStoreImpl::DeleteSecretAlias(
    std::string_view vault_id, std::string_view path, std::string_view alias,
    const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(
      WriteChange(StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
                  [&](PgConnection& conn, AuditEvent*) -> Status {
                    ASSIGN_OR_RETURN(const std::string id, LockSecretAt(conn, vault_id, path));
                    ASSIGN_OR_RETURN(const bool removed, RemoveAliasRow(conn, id, alias));
                    if (!removed) {
                      return NotFoundError(AliasNotSet(alias));
                    }
                    ASSIGN_OR_RETURN(out, LoadAliases(conn, id));
                    return OkStatus();
                  }));
  return out;
}

StatusOr<std::map<std::string, int64_t>> PostgresStoreImpl::PromoteSecret(std::string_view vault_id,
                                                                          std::string_view path,
                                                                          const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(
      StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
      [&](PgConnection& conn, AuditEvent* event) -> Status {
        ASSIGN_OR_RETURN(const std::string id, LockSecretAt(conn, vault_id, path));
        ASSIGN_OR_RETURN(out, MoveCurrent(conn, id, kAliasPending, kAliasPrevious, event));
        return OkStatus();
      }));
  return out;
}

StatusOr<std::map<std::string, int64_t>> PostgresStoreImpl::RollbackSecret(
    std::string_view vault_id, std::string_view path, const AuditEvent* audit) {
  std::map<std::string, int64_t> out;
  RETURN_IF_ERROR(WriteChange(
      StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
      [&](PgConnection& conn, AuditEvent* event) -> Status {
        ASSIGN_OR_RETURN(const std::string id, LockSecretAt(conn, vault_id, path));
        ASSIGN_OR_RETURN(out, MoveCurrent(conn, id, kAliasPrevious, kAliasPending, event));
        return OkStatus();
      }));
  return out;
}

StatusOr<SecretVersion> PostgresStoreImpl::DestroySecretVersion(std::string_view vault_id,
                                                                std::string_view path,
                                                                int64_t version, UnixMicros at,
                                                                const AuditEvent* audit) {
  SecretVersion result;
  RETURN_IF_ERROR(WriteChange(
      StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
      [&](PgConnection& conn, AuditEvent* event) -> Status {
        ASSIGN_OR_RETURN(const std::string id, LockSecretAt(conn, vault_id, path));
        ASSIGN_OR_RETURN(const auto aliases, LoadAliases(conn, id));
        for (const std::string_view held : {kAliasCurrent, kAliasPending}) {
          const auto it = aliases.find(std::string(held));
          if (it != aliases.end() && it->second == version) {
            return FailedPreconditionError(AliasHoldsVersion(held, version));
          }
        }
        RETURN_IF_ERROR(DestroyVersionRow(conn, id, version, at));
        if (event != nullptr) {
          event->version = version;
        }
        ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT " COFFER_PG_VERSION_COLUMNS
                                               " FROM secrets AS s JOIN secret_versions AS v"
                                               " ON v.secret_id = s.id"
                                               " WHERE s.id = $1 AND v.version = $2",
                                               PgParams().Text(id).Int(version)));
        if (r.rows() == 0) {
          return NotFoundError(VersionNotFound(version));
        }
        ASSIGN_OR_RETURN(result, ReadVersion(r, 0, /*with_ciphertext=*/false));
        ASSIGN_OR_RETURN(result.aliases, LoadAliases(conn, id));
        return OkStatus();
      }));
  return result;
}

Status PostgresStoreImpl::ImportSecretAlias(std::string_view secret_id, std::string_view alias,
                                            int64_t version) {
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT 1 FROM secret_versions WHERE secret_id = $1"
                                           " AND version = $2",
                                           PgParams().Text(secret_id).Int(version)));
    if (r.rows() == 0) {
      return NotFoundError(VersionNotFound(version));
    }
    return SetAliasRow(conn, secret_id, alias, version);
  });
}

}  // namespace coffer::postgres_internal
