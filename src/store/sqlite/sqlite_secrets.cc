// SqliteStoreImpl's vaults and secrets: a secret's versions (written, read, listed, disabled),
// paged listing by path prefix, counted reads (ConsumeSecretAccess), and ImportSecretVersion,
// which copies a version from another store as it is.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

// The columns ReadVersion() expects, from `secrets AS s` joined with `secret_versions AS v`;
// queries that return the value add v.ciphertext as column kCiphertextColumn.
#define COFFER_VERSION_COLUMNS                                                                    \
  "s.id, s.vault_id, s.path, v.version, v.type, v.metadata_json, v.rotation_policy_json, "        \
  "v.expires_at, v.max_access_count, v.access_count, v.disabled_at, v.created_at, v.created_by, " \
  "v.destroyed_at, s.max_versions, v.last_read_at, COALESCE(v.last_read_by, ''), s.read_count, "  \
  "s.last_read_at, COALESCE(s.last_read_by, '')"
constexpr int kVersionColumn = 3;
constexpr int kCiphertextColumn = 20;

// For one (vault, path): a row per secret, with v.* NULL when no version matches.
constexpr std::string_view kGetLatestEnabledSql =
    "SELECT " COFFER_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version ="
    "  (SELECT e.version FROM secret_versions AS e"
    "   WHERE e.secret_id = s.id AND e.disabled_at IS NULL ORDER BY e.version DESC LIMIT 1)"
    " WHERE s.vault_id = ?1 AND s.path = ?2";
constexpr std::string_view kGetLatestAnySql =
    "SELECT " COFFER_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.latest_version"
    " WHERE s.vault_id = ?1 AND s.path = ?2";
constexpr std::string_view kGetExactSql =
    "SELECT " COFFER_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = ?3"
    " WHERE s.vault_id = ?1 AND s.path = ?2";
constexpr std::string_view kGetExactMetadataSql =
    "SELECT " COFFER_VERSION_COLUMNS
    " FROM secrets AS s"
    " JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = ?2 WHERE s.id = ?1";
constexpr std::string_view kListVersionsSql =
    "SELECT " COFFER_VERSION_COLUMNS
    " FROM secrets AS s"
    " JOIN secret_versions AS v ON v.secret_id = s.id"
    " WHERE s.vault_id = ?1 AND s.path = ?2 ORDER BY v.version DESC";

// The same three selections by secret id (?1), ?2 the exact version.
constexpr std::string_view kGetByIdLatestEnabledSql =
    "SELECT " COFFER_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version ="
    "  (SELECT e.version FROM secret_versions AS e"
    "   WHERE e.secret_id = s.id AND e.disabled_at IS NULL ORDER BY e.version DESC LIMIT 1)"
    " WHERE s.id = ?1";
constexpr std::string_view kGetByIdLatestAnySql =
    "SELECT " COFFER_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.latest_version"
    " WHERE s.id = ?1";
constexpr std::string_view kGetByIdExactSql =
    "SELECT " COFFER_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = ?2"
    " WHERE s.id = ?1";

// ListSecrets: a range scan of UNIQUE (vault_id, path), ?2 the lower bound (inclusive or
// exclusive), ?3 the optional exclusive upper bound, ?4 the row limit.
std::string ListSecretsSql(bool exclusive_lower, bool has_upper) {
  std::string sql =
      "SELECT " COFFER_VERSION_COLUMNS
      " FROM secrets AS s"
      " JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.latest_version"
      " WHERE s.vault_id = ?1 AND s.path ";
  sql += exclusive_lower ? "> ?2" : ">= ?2";
  if (has_upper) {
    sql += " AND s.path < ?3";
  }
  sql += " ORDER BY s.path LIMIT ?4";
  return sql;
}

// GetSecretVersion(ById) for kCurrent and kAlias (the alias's name bound to ?3, or ?2 by id).
std::string AliasSelectSql(bool current, bool by_id) {
  std::string sql = "SELECT " COFFER_VERSION_COLUMNS
                    ", v.ciphertext FROM secrets AS s"
                    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = ";
  if (current) {
    sql +=
        "COALESCE((SELECT a.version FROM secret_aliases AS a"
        " WHERE a.secret_id = s.id AND a.alias = 'current'),"
        " (SELECT e.version FROM secret_versions AS e"
        " WHERE e.secret_id = s.id AND e.disabled_at IS NULL ORDER BY e.version DESC LIMIT 1))";
  } else {
    sql += "(SELECT a.version FROM secret_aliases AS a WHERE a.secret_id = s.id AND a.alias = ";
    sql += by_id ? "?2)" : "?3)";
  }
  sql += by_id ? " WHERE s.id = ?1" : " WHERE s.vault_id = ?1 AND s.path = ?2";
  return sql;
}

#undef COFFER_VERSION_COLUMNS

constexpr std::string_view kVaultColumnsSql =
    "SELECT id, name, description, owner_id, created_at, max_versions FROM vaults";

// The least string greater than every string that starts with `prefix` (SQLite compares TEXT
// bytewise), or nullopt when no such string exists (empty prefix, or only 0xFF bytes).
std::optional<std::string> PrefixUpperBound(std::string_view prefix) {
  std::string upper(prefix);
  while (!upper.empty()) {
    const auto last = static_cast<unsigned char>(upper.back());
    if (last != 0xFF) {
      upper.back() = static_cast<char>(last + 1);
      return upper;
    }
    upper.pop_back();
  }
  return std::nullopt;
}

StatusOr<SecretVersion> ReadVersion(const SqliteStatement& st, bool with_ciphertext) {
  SecretVersion v;
  v.secret_id = st.ColumnText(0);
  v.vault_id = st.ColumnText(1);
  v.path = st.ColumnText(2);
  v.version = st.ColumnInt(3);
  const std::optional<SecretType> type = ParseSecretType(st.ColumnText(4));
  if (!type.has_value()) {
    return Err(DataLossError("store: a secret version has an unknown type"));
  }
  v.type = *type;
  v.metadata_json = st.ColumnText(5);
  v.rotation_policy_json = st.ColumnText(6);
  v.expires_at = st.ColumnOptionalInt(7);
  v.max_access_count = st.ColumnInt(8);
  v.access_count = st.ColumnInt(9);
  v.disabled_at = st.ColumnOptionalInt(10);
  v.created_at = st.ColumnInt(11);
  v.created_by = st.ColumnText(12);
  v.destroyed_at = st.ColumnOptionalInt(13);
  v.secret_max_versions = st.ColumnInt(14);
  v.last_read_at = st.ColumnOptionalInt(15);
  v.last_read_by = st.ColumnText(16);
  v.secret_read_count = st.ColumnInt(17);
  v.secret_last_read_at = st.ColumnOptionalInt(18);
  v.secret_last_read_by = st.ColumnText(19);
  if (with_ciphertext) {
    v.ciphertext = st.ColumnBlob(kCiphertextColumn);
  }
  return v;
}

StatusOr<std::vector<SecretVersion>> ReadVersions(SqliteStatement& st) {
  return ReadAll<SecretVersion>(
      st, [](const SqliteStatement& row) { return ReadVersion(row, /*with_ciphertext=*/false); });
}

Vault ReadVault(const SqliteStatement& st) {
  Vault v;
  v.id = st.ColumnText(0);
  v.name = st.ColumnText(1);
  v.description = st.ColumnText(2);
  v.owner_id = st.ColumnText(3);
  v.created_at = st.ColumnInt(4);
  v.max_versions = st.ColumnInt(5);
  return v;
}

struct SecretRow {
  std::string id;
  int64_t latest_version = 0;
};

StatusOr<std::optional<SecretRow>> FindSecret(SqliteConnection& db, std::string_view vault_id,
                                              std::string_view path) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT id, latest_version FROM secrets"
                                                  " WHERE vault_id = ?1 AND path = ?2"));
  st.BindText(1, vault_id);
  st.BindText(2, path);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return std::optional<SecretRow>();
  }
  return SecretRow{st.ColumnText(0), st.ColumnInt(1)};
}

// Inserts version `v` of its secret, every field as it is, with `ciphertext` as its value.
Status InsertVersionRow(SqliteConnection& db, const SecretVersion& v,
                        const std::vector<uint8_t>& ciphertext) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("INSERT INTO secret_versions (secret_id, version, type,"
                              " metadata_json, rotation_policy_json, expires_at,"
                              " max_access_count, access_count, disabled_at, created_at,"
                              " created_by, ciphertext, destroyed_at)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
  st.BindText(1, v.secret_id);
  st.BindInt(2, v.version);
  st.BindText(3, SecretTypeName(v.type));
  st.BindText(4, v.metadata_json);
  st.BindText(5, v.rotation_policy_json);
  st.BindOptionalInt(6, v.expires_at);
  st.BindInt(7, v.max_access_count);
  st.BindInt(8, v.access_count);
  st.BindOptionalInt(9, v.disabled_at);
  st.BindInt(10, v.created_at);
  st.BindText(11, v.created_by);
  st.BindBlob(12, ciphertext);
  st.BindOptionalInt(13, v.destroyed_at);
  return st.Run();
}

}  // namespace

// --- vaults ----------------------------------------------------------------------------------

Status SqliteStoreImpl::InsertVault(const Vault& vault, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Vault(vault.id);
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool taken,
                     Exists(db, "SELECT 1 FROM vaults WHERE lower(name) = lower(?1)", vault.name));
    if (taken) {
      return AlreadyExistsError(VaultNameTaken(vault.name));
    }
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO vaults (id, name, description, owner_id,"
                                " created_at, max_versions) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    st.BindText(1, vault.id);
    st.BindText(2, vault.name);
    st.BindText(3, vault.description);
    st.BindText(4, vault.owner_id);
    st.BindInt(5, vault.created_at);
    st.BindInt(6, vault.max_versions);
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a vault with this id already exists");
  });
}

StatusOr<Vault> SqliteStoreImpl::GetVault(std::string_view vault_id) {
  auto db = readers_->Acquire();
  return GetById(*db, kVaultColumnsSql, vault_id, "vault not found", ReadVault);
}

StatusOr<std::vector<Vault>> SqliteStoreImpl::ListVaults(std::optional<std::string_view> owner_id) {
  auto db = readers_->Acquire();
  return ListByOwner(*db, kVaultColumnsSql, owner_id, ReadVault);
}

Status SqliteStoreImpl::DeleteVault(std::string_view vault_id, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Vault(std::string(vault_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    // Secrets, their versions and the vault's policies go by ON DELETE CASCADE; audit events
    // stay.
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM vaults WHERE id = ?1"));
    st.BindText(1, vault_id);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError("vault not found");
    }
    return OkStatus();
  });
}

// --- secrets ---------------------------------------------------------------------------------

StatusOr<SecretVersion> SqliteStoreImpl::PutSecretVersion(const NewSecretVersion& in,
                                                          const SealFunction& seal,
                                                          const AuditEvent* audit) {
  SecretVersion stored;
  const StoreChange what = StoreChange::Secret(in.vault_id, in.path);  // for waiting reads
  RETURN_IF_ERROR(WriteChange(what, audit, [&](SqliteConnection& db, AuditEvent* event) -> Status {
    ASSIGN_OR_RETURN(const bool vault_exists,
                     Exists(db, "SELECT 1 FROM vaults WHERE id = ?1", in.vault_id));
    if (!vault_exists) {
      return NotFoundError("vault not found");
    }
    ASSIGN_OR_RETURN(const std::optional<SecretRow> secret, FindSecret(db, in.vault_id, in.path));
    const int64_t latest = secret.has_value() ? secret->latest_version : 0;
    if (in.expected_latest.has_value() && *in.expected_latest != latest) {
      return LatestVersionMismatch(latest, *in.expected_latest);
    }
    std::optional<int64_t> readable_before;
    if (secret.has_value()) {
      ASSIGN_OR_RETURN(readable_before, LatestEnabledVersion(db, secret->id));
    }
    // The writer thread runs one operation at a time, so latest_version + 1 is unique and
    // leaves no gap; PRIMARY KEY (secret_id, version) backs that up.
    SecretVersion header = NewVersionRow(in, secret.has_value() ? secret->id : NewUuid(random_),
                                         secret.has_value() ? secret->latest_version + 1 : 1);
    if (in.schedule_claim.has_value()) {
      RETURN_IF_ERROR(TakeScheduleClaim(db, *in.schedule_claim, header));
    }
    ASSIGN_OR_RETURN(const std::vector<uint8_t> ciphertext, seal(header));

    if (secret.has_value()) {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE secrets SET latest_version = ?2 WHERE id = ?1"));
      st.BindText(1, header.secret_id);
      st.BindInt(2, header.version);
      RETURN_IF_ERROR(st.Run());
    } else {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO secrets (id, vault_id, path, created_at,"
                                  " latest_version) VALUES (?1, ?2, ?3, ?4, ?5)"));
      st.BindText(1, header.secret_id);
      st.BindText(2, header.vault_id);
      st.BindText(3, header.path);
      st.BindInt(4, header.created_at);
      st.BindInt(5, header.version);
      RETURN_IF_ERROR(st.Run());
    }
    // A new version: header's access_count is 0 and its disabled_at empty.
    RETURN_IF_ERROR(InsertVersionRow(db, header, ciphertext));
    if (in.max_versions.has_value()) {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE secrets SET max_versions = ?2 WHERE id = ?1"));
      st.BindText(1, header.secret_id);
      st.BindInt(2, *in.max_versions);
      RETURN_IF_ERROR(st.Run());
    }
    RETURN_IF_ERROR(MoveAliasesForWrite(db, header.secret_id, header.version, in.stage_pending,
                                        readable_before));
    NoteStoredVersion(event, header);
    ASSIGN_OR_RETURN(const std::vector<int64_t> destroyed,
                     ApplyRetention(db, header.secret_id, header.created_at));
    for (const int64_t version : destroyed) {
      if (event != nullptr) {
        AuditEvent shredded = *event;
        shredded.action = "secret.destroy_version";
        shredded.version = version;
        RETURN_IF_ERROR(audit_chain_->Append(db, shredded));
      }
    }
    ASSIGN_OR_RETURN(header.aliases, LoadAliases(db, header.secret_id));
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT max_versions FROM secrets WHERE id = ?1"));
      st.BindText(1, header.secret_id);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      header.secret_max_versions = row ? st.ColumnInt(0) : 0;
    }
    stored = std::move(header);
    return OkStatus();
  }));
  return stored;
}

StatusOr<SecretVersion> SqliteStoreImpl::GetSecretVersion(std::string_view vault_id,
                                                          std::string_view path,
                                                          VersionSelector selector) {
  auto db = readers_->Acquire();
  std::string sql(kGetLatestEnabledSql);
  if (selector.kind == VersionSelector::Kind::kLatestAny) {
    sql = kGetLatestAnySql;
  } else if (selector.kind == VersionSelector::Kind::kExact) {
    sql = kGetExactSql;
  } else if (selector.kind != VersionSelector::Kind::kLatestEnabled) {
    sql = AliasSelectSql(selector.kind == VersionSelector::Kind::kCurrent, /*by_id=*/false);
  }
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
  st.BindText(1, vault_id);
  st.BindText(2, path);
  if (selector.kind == VersionSelector::Kind::kExact) {
    st.BindInt(3, selector.version);
  } else if (selector.kind == VersionSelector::Kind::kAlias) {
    st.BindText(3, selector.alias);
  }
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("secret not found"));
  }
  if (st.ColumnIsNull(kVersionColumn)) {
    return Err(MissingVersionError(selector));
  }
  ASSIGN_OR_RETURN(SecretVersion v, ReadVersion(st, /*with_ciphertext=*/true));
  ASSIGN_OR_RETURN(v.aliases, LoadAliases(*db, v.secret_id));
  return v;
}

StatusOr<SecretVersion> SqliteStoreImpl::GetSecretVersionById(std::string_view secret_id,
                                                              VersionSelector selector) {
  auto db = readers_->Acquire();
  std::string sql(kGetByIdLatestEnabledSql);
  if (selector.kind == VersionSelector::Kind::kLatestAny) {
    sql = kGetByIdLatestAnySql;
  } else if (selector.kind == VersionSelector::Kind::kExact) {
    sql = kGetByIdExactSql;
  } else if (selector.kind != VersionSelector::Kind::kLatestEnabled) {
    sql = AliasSelectSql(selector.kind == VersionSelector::Kind::kCurrent, /*by_id=*/true);
  }
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
  st.BindText(1, secret_id);
  if (selector.kind == VersionSelector::Kind::kExact) {
    st.BindInt(2, selector.version);
  } else if (selector.kind == VersionSelector::Kind::kAlias) {
    st.BindText(2, selector.alias);
  }
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("secret not found"));
  }
  if (st.ColumnIsNull(kVersionColumn)) {
    return Err(MissingVersionError(selector));
  }
  return ReadVersion(st, /*with_ciphertext=*/true);
}

StatusOr<std::vector<SecretVersion>> SqliteStoreImpl::ListSecretVersions(std::string_view vault_id,
                                                                         std::string_view path) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(kListVersionsSql));
  st.BindText(1, vault_id);
  st.BindText(2, path);
  ASSIGN_OR_RETURN(std::vector<SecretVersion> versions, ReadVersions(st));
  if (versions.empty()) {
    // A secret is created with its first version and never loses its last one.
    return Err(NotFoundError("secret not found"));
  }
  ASSIGN_OR_RETURN(const auto aliases, LoadAliases(*db, versions.front().secret_id));
  for (SecretVersion& v : versions) {
    v.aliases = aliases;
  }
  return versions;
}

StatusOr<SecretListPage> SqliteStoreImpl::ListSecrets(std::string_view vault_id,
                                                      std::string_view prefix,
                                                      std::string_view after, size_t limit) {
  // Start at `prefix`, or just past `after` when that is further along.
  const bool exclusive_lower = !after.empty() && after >= prefix;
  const std::optional<std::string> upper = PrefixUpperBound(prefix);
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(ListSecretsSql(exclusive_lower, upper.has_value())));
  st.BindText(1, vault_id);
  st.BindText(2, exclusive_lower ? after : prefix);
  if (upper.has_value()) {
    st.BindText(3, *upper);
  }
  // One row more than asked tells whether another page follows. LIMIT -1 is no limit.
  st.BindInt(4, limit == 0 ? -1 : static_cast<int64_t>(limit) + 1);
  SecretListPage page;
  ASSIGN_OR_RETURN(page.secrets, ReadVersions(st));
  if (limit != 0 && page.secrets.size() > limit) {
    page.secrets.resize(limit);
    page.next_after = page.secrets.back().path;
  }
  return page;
}

Status SqliteStoreImpl::DeleteSecret(std::string_view vault_id, std::string_view path,
                                     const AuditEvent* audit) {
  const StoreChange what = StoreChange::Secret(std::string(vault_id), std::string(path));
  return WriteChange(what, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("DELETE FROM secrets WHERE vault_id = ?1 AND path = ?2"));
    st.BindText(1, vault_id);
    st.BindText(2, path);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError("secret not found");
    }
    return OkStatus();
  });
}

StatusOr<SecretVersion> SqliteStoreImpl::DisableSecretVersion(std::string_view vault_id,
                                                              std::string_view path,
                                                              int64_t version, UnixMicros at,
                                                              const AuditEvent* audit) {
  SecretVersion result;
  const StoreChange what = StoreChange::Secret(std::string(vault_id), std::string(path));
  RETURN_IF_ERROR(WriteChange(what, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const std::optional<SecretRow> secret, FindSecret(db, vault_id, path));
    if (!secret.has_value()) {
      return NotFoundError("secret not found");
    }
    {
      // `disabled_at IS NULL` keeps the first time of a repeated disable.
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE secret_versions SET disabled_at = ?3"
                                                      " WHERE secret_id = ?1 AND version = ?2"
                                                      " AND disabled_at IS NULL"));
      st.BindText(1, secret->id);
      st.BindInt(2, version);
      st.BindInt(3, at);
      RETURN_IF_ERROR(st.Run());
    }
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(kGetExactMetadataSql));
    st.BindText(1, secret->id);
    st.BindInt(2, version);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return NotFoundError(VersionNotFound(version));
    }
    ASSIGN_OR_RETURN(result, ReadVersion(st, /*with_ciphertext=*/false));
    ASSIGN_OR_RETURN(result.aliases, LoadAliases(db, secret->id));
    return OkStatus();
  }));
  return result;
}

StatusOr<SecretVersion> SqliteStoreImpl::DestroySecretVersion(std::string_view vault_id,
                                                              std::string_view path,
                                                              int64_t version, UnixMicros at,
                                                              const AuditEvent* audit) {
  SecretVersion result;
  RETURN_IF_ERROR(WriteChange(
      StoreChange::Secret(std::string(vault_id), std::string(path)), audit,
      [&](SqliteConnection& db, AuditEvent* event) -> Status {
        ASSIGN_OR_RETURN(const std::optional<SecretRow> secret, FindSecret(db, vault_id, path));
        if (!secret.has_value()) {
          return NotFoundError("secret not found");
        }
        ASSIGN_OR_RETURN(const auto aliases, LoadAliases(db, secret->id));
        for (const std::string_view held : {kAliasCurrent, kAliasPending}) {
          const auto it = aliases.find(std::string(held));
          if (it != aliases.end() && it->second == version) {
            return FailedPreconditionError(AliasHoldsVersion(held, version));
          }
        }
        RETURN_IF_ERROR(DestroyVersionRow(db, secret->id, version, at));
        if (event != nullptr) {
          event->version = version;
        }
        ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(kGetExactMetadataSql));
        st.BindText(1, secret->id);
        st.BindInt(2, version);
        ASSIGN_OR_RETURN(const bool row, st.Step());
        if (!row) {
          return NotFoundError(VersionNotFound(version));
        }
        ASSIGN_OR_RETURN(result, ReadVersion(st, /*with_ciphertext=*/false));
        ASSIGN_OR_RETURN(result.aliases, LoadAliases(db, secret->id));
        return OkStatus();
      }));
  return result;
}

StatusOr<int64_t> SqliteStoreImpl::ConsumeSecretAccess(std::string_view secret_id, int64_t version,
                                                       const AuditEvent* audit) {
  int64_t count = 0;
  RETURN_IF_ERROR(Write(audit, [&](SqliteConnection& db, AuditEvent* event) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE secret_versions SET access_count = access_count + 1"
                                  " WHERE secret_id = ?1 AND version = ?2"
                                  " AND disabled_at IS NULL AND max_access_count > 0"
                                  " AND access_count < max_access_count"
                                  " RETURNING access_count"));
      st.BindText(1, secret_id);
      st.BindInt(2, version);
      ASSIGN_OR_RETURN(const bool updated, st.Step());
      if (updated) {
        count = st.ColumnInt(0);
        if (event != nullptr) {
          event->version = version;
        }
        return OkStatus();
      }
    }
    // Nothing counted: say why.
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("SELECT disabled_at IS NOT NULL, max_access_count"
                                " FROM secret_versions WHERE secret_id = ?1 AND version = ?2"));
    st.BindText(1, secret_id);
    st.BindInt(2, version);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return NotFoundError(VersionNotFound(version));
    }
    if (st.ColumnInt(0) != 0) {
      return GoneError("this version is disabled");
    }
    if (st.ColumnInt(1) == 0) {
      return FailedPreconditionError("store: this version has no read limit to count against");
    }
    return GoneError("this version has no reads left");
  }));
  return count;
}

// --- copying a store (coffer migrate) --------------------------------------------------------

Status SqliteStoreImpl::ImportSecretVersion(const SecretVersion& v) {
  return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    if (v.version == 1) {
      ASSIGN_OR_RETURN(const bool vault_exists,
                       Exists(db, "SELECT 1 FROM vaults WHERE id = ?1", v.vault_id));
      if (!vault_exists) {
        return NotFoundError("vault not found");
      }
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO secrets (id, vault_id, path, created_at,"
                                  " latest_version) VALUES (?1, ?2, ?3, ?4, 1)"));
      st.BindText(1, v.secret_id);
      st.BindText(2, v.vault_id);
      st.BindText(3, v.path);
      st.BindInt(4, v.created_at);
      RETURN_IF_ERROR(Reword(st.Run(), StatusCode::kAlreadyExists, "the secret already exists"));
    } else {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE secrets SET latest_version = ?2 WHERE id = ?1"
                                  " AND vault_id = ?3 AND path = ?4 AND latest_version = ?2 - 1"));
      st.BindText(1, v.secret_id);
      st.BindInt(2, v.version);
      st.BindText(3, v.vault_id);
      st.BindText(4, v.path);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return FailedPreconditionError("store: versions must be imported in order from 1");
      }
    }
    RETURN_IF_ERROR(Reword(InsertVersionRow(db, v, v.ciphertext), StatusCode::kAlreadyExists,
                           "the version already exists"));
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE secrets SET max_versions = ?2 WHERE id = ?1"));
    st.BindText(1, v.secret_id);
    st.BindInt(2, v.secret_max_versions);
    return st.Run();
  });
}

}  // namespace coffer::sqlite_store_internal
