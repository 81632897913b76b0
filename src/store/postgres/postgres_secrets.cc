// PostgresStoreImpl's vaults, secrets and their versions: dense version numbers from an
// UPDATE … RETURNING under the secret's row lock, counted reads (ConsumeSecretAccess) that never
// pass their limit on any server, and ImportSecretVersion for copying a store.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

constexpr std::string_view kGetLatestEnabledSql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version ="
    "  (SELECT e.version FROM secret_versions AS e"
    "   WHERE e.secret_id = s.id AND e.disabled_at IS NULL ORDER BY e.version DESC LIMIT 1)"
    " WHERE s.vault_id = $1 AND s.path = $2";
constexpr std::string_view kGetLatestAnySql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.latest_version"
    " WHERE s.vault_id = $1 AND s.path = $2";
constexpr std::string_view kGetExactSql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = $3"
    " WHERE s.vault_id = $1 AND s.path = $2";
// The same three selections by secret id ($1), $2 the exact version.
constexpr std::string_view kGetByIdLatestEnabledSql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version ="
    "  (SELECT e.version FROM secret_versions AS e"
    "   WHERE e.secret_id = s.id AND e.disabled_at IS NULL ORDER BY e.version DESC LIMIT 1)"
    " WHERE s.id = $1";
constexpr std::string_view kGetByIdLatestAnySql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.latest_version"
    " WHERE s.id = $1";
constexpr std::string_view kGetByIdExactSql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    ", v.ciphertext FROM secrets AS s"
    " LEFT JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = $2"
    " WHERE s.id = $1";
constexpr std::string_view kListVersionsSql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    " FROM secrets AS s JOIN secret_versions AS v ON v.secret_id = s.id"
    " WHERE s.vault_id = $1 AND s.path = $2 ORDER BY v.version DESC";
constexpr std::string_view kDisableSql =
    "UPDATE secret_versions AS v SET disabled_at = COALESCE(v.disabled_at, $4)"
    " FROM secrets AS s WHERE s.id = v.secret_id AND s.vault_id = $1 AND s.path = $2"
    " AND v.version = $3 RETURNING " COFFER_PG_VERSION_COLUMNS;

// GetSecretVersion(ById) for kCurrent and kAlias (the alias's name bound to $3, or $2 by id).
std::string AliasSelectSql(bool current, bool by_id) {
  std::string sql = "SELECT " COFFER_PG_VERSION_COLUMNS
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
    sql += by_id ? "$2)" : "$3)";
  }
  sql += by_id ? " WHERE s.id = $1" : " WHERE s.vault_id = $1 AND s.path = $2";
  return sql;
}

// ListSecrets: a range scan of UNIQUE (vault_id, path) from $2 (inclusive or exclusive), to the
// exclusive upper bound $3 when there is one, else filtered by starts_with; $4 the row limit
// (NULL: none).
std::string ListSecretsSql(bool exclusive_lower, bool has_upper) {
  std::string sql =
      "SELECT " COFFER_PG_VERSION_COLUMNS
      " FROM secrets AS s"
      " JOIN secret_versions AS v ON v.secret_id = s.id AND v.version = s.latest_version"
      " WHERE s.vault_id = $1 AND s.path ";
  sql += exclusive_lower ? "> $2" : ">= $2";
  sql += has_upper ? " AND s.path < $3" : " AND starts_with(s.path, $3)";
  sql += " ORDER BY s.path LIMIT $4";
  return sql;
}

constexpr std::string_view kVaultColumnsSql =
    "SELECT id, name, description, owner_id, created_at, max_versions FROM vaults";

// For a prefix whose last byte is ASCII below 0x7F: the prefix with that byte incremented, the
// least string greater than every string starting with the prefix. Otherwise nullopt (the
// query filters with starts_with instead, since incrementing a byte of a multi-byte character
// would not be valid UTF-8).
std::optional<std::string> PrefixUpperBound(std::string_view prefix) {
  if (prefix.empty() || static_cast<unsigned char>(prefix.back()) >= 0x7F) {
    return std::nullopt;
  }
  std::string upper(prefix);
  upper.back() = static_cast<char>(upper.back() + 1);
  return upper;
}

Status InsertVersionRow(PgConnection& conn, const SecretVersion& v,
                        const std::vector<uint8_t>& ciphertext) {
  return Reword(conn.Run("INSERT INTO secret_versions (secret_id, version, type, metadata_json,"
                         " rotation_policy_json, expires_at, max_access_count, access_count,"
                         " disabled_at, created_at, created_by, ciphertext, destroyed_at)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                         PgParams()
                             .Text(v.secret_id)
                             .Int(v.version)
                             .Text(SecretTypeName(v.type))
                             .Text(v.metadata_json)
                             .Text(v.rotation_policy_json)
                             .OptionalInt(v.expires_at)
                             .Int(v.max_access_count)
                             .Int(v.access_count)
                             .OptionalInt(v.disabled_at)
                             .Int(v.created_at)
                             .Text(v.created_by)
                             .Bytes(ciphertext)
                             .OptionalInt(v.destroyed_at)),
                StatusCode::kAlreadyExists, "the version already exists");
}

}  // namespace

// --- vaults ------------------------------------------------------------------------------------

Status PostgresStoreImpl::InsertVault(const Vault& vault, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Vault(vault.id);
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO vaults (id, name, description, owner_id, created_at, max_versions)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        PgParams()
            .Text(vault.id)
            .Text(vault.name)
            .Text(vault.description)
            .Text(vault.owner_id)
            .Int(vault.created_at)
            .Int(vault.max_versions));
    return RewordDuplicate(std::move(s), conn, {"vaults_name_lower_key", "vaults_owner_name_key"},
                           VaultNameTaken(vault.name), "a vault with this id already exists");
  });
}

StatusOr<Vault> PostgresStoreImpl::GetVault(std::string_view vault_id) {
  return GetById(kVaultColumnsSql, vault_id, "vault not found", ReadVault);
}

StatusOr<std::vector<Vault>> PostgresStoreImpl::ListVaults(
    std::optional<std::string_view> owner_id) {
  return ListByOwner(kVaultColumnsSql, owner_id, ReadVault);
}

Status PostgresStoreImpl::DeleteVault(std::string_view vault_id, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Vault(std::string(vault_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // Secrets, versions and policies go by ON DELETE CASCADE; audit events stay.
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("DELETE FROM vaults WHERE id = $1", PgParams().Text(vault_id)));
    if (r.affected() == 0) {
      return NotFoundError("vault not found");
    }
    return OkStatus();
  });
}

// --- secrets -----------------------------------------------------------------------------------

StatusOr<SecretVersion> PostgresStoreImpl::PutSecretVersion(const NewSecretVersion& in,
                                                            const SealFunction& seal,
                                                            const AuditEvent* audit) {
  SecretVersion stored;
  const StoreChange change = StoreChange::Secret(in.vault_id, in.path);
  RETURN_IF_ERROR(WriteChange(change, audit, [&](PgConnection& conn, AuditEvent* event) -> Status {
    SecretVersion header;
    std::optional<int64_t> readable_before;
    // The UPDATE takes the secret's row lock until commit: concurrent writers of one path,
    // on any server, get latest_version + 1 one after another, so versions are dense and
    // unique (PRIMARY KEY (secret_id, version) backs that up).
    for (int round = 0; header.version == 0; ++round) {
      if (round == 3) {
        return AbortedError("store: the secret kept changing while it was written");
      }
      ASSIGN_OR_RETURN(PgResult bumped,
                       conn.Exec("UPDATE secrets SET latest_version = latest_version + 1"
                                 " WHERE vault_id = $1 AND path = $2"
                                 " RETURNING id, latest_version",
                                 PgParams().Text(in.vault_id).Text(in.path)));
      if (bumped.rows() == 1) {
        header.secret_id = bumped.Text(0, 0);
        header.version = bumped.Int(0, 1);
        // The row lock taken by the UPDATE holds until commit, so the check cannot race.
        if (in.expected_latest.has_value() && *in.expected_latest != header.version - 1) {
          return LatestVersionMismatch(header.version - 1, *in.expected_latest);
        }
        ASSIGN_OR_RETURN(readable_before, LatestEnabledVersion(conn, header.secret_id));
        break;
      }
      if (in.expected_latest.has_value() && *in.expected_latest != 0) {
        return LatestVersionMismatch(0, *in.expected_latest);
      }
      // No secret at the path yet: create it, unless another writer does first (then the
      // INSERT does nothing once that writer commits, and the UPDATE above is tried again).
      const std::string id = NewUuid(random_);
      auto created = conn.Exec(
          "INSERT INTO secrets (id, vault_id, path, created_at, latest_version)"
          " VALUES ($1, $2, $3, $4, 1) ON CONFLICT (vault_id, path) DO NOTHING RETURNING id",
          PgParams().Text(id).Text(in.vault_id).Text(in.path).Int(in.created_at));
      if (!created.has_value()) {
        return Reword(created.error(), StatusCode::kNotFound, "vault not found");
      }
      if (created->rows() == 1) {
        header.secret_id = id;
        header.version = 1;
      }
    }
    header = NewVersionRow(in, std::move(header.secret_id), header.version);
    if (in.schedule_claim.has_value()) {
      RETURN_IF_ERROR(TakeScheduleClaim(conn, *in.schedule_claim, header));
    }
    ASSIGN_OR_RETURN(const std::vector<uint8_t> ciphertext, seal(header));
    RETURN_IF_ERROR(InsertVersionRow(conn, header, ciphertext));
    if (in.max_versions.has_value()) {
      RETURN_IF_ERROR(conn.Run("UPDATE secrets SET max_versions = $2 WHERE id = $1",
                               PgParams().Text(header.secret_id).Int(*in.max_versions)));
    }
    RETURN_IF_ERROR(MoveAliasesForWrite(conn, header.secret_id, header.version, in.stage_pending,
                                        readable_before));
    NoteStoredVersion(event, header);
    ASSIGN_OR_RETURN(const std::vector<int64_t> destroyed,
                     ApplyRetention(conn, header.secret_id, header.created_at));
    if (event != nullptr && !destroyed.empty()) {
      // Retention's destroys are audited in the same transaction, one event each.
      std::vector<AuditEvent> shredded(destroyed.size(), *event);
      std::vector<AuditEvent*> events;
      for (size_t i = 0; i < destroyed.size(); ++i) {
        shredded[i].action = "secret.destroy_version";
        shredded[i].version = destroyed[i];
        events.push_back(&shredded[i]);
      }
      RETURN_IF_ERROR(AppendAuditEvents(conn, events));
    }
    ASSIGN_OR_RETURN(header.aliases, LoadAliases(conn, header.secret_id));
    ASSIGN_OR_RETURN(PgResult limit, conn.Exec("SELECT max_versions FROM secrets WHERE id = $1",
                                               PgParams().Text(header.secret_id)));
    header.secret_max_versions = limit.rows() == 1 ? limit.Int(0, 0) : 0;
    stored = std::move(header);
    return OkStatus();
  }));
  return stored;
}

StatusOr<SecretVersion> PostgresStoreImpl::GetSecretVersion(std::string_view vault_id,
                                                            std::string_view path,
                                                            VersionSelector selector) {
  return Read([&](PgConnection& conn) -> StatusOr<SecretVersion> {
    PgParams params;
    params.Text(vault_id).Text(path);
    std::string_view sql = kGetLatestEnabledSql;
    if (selector.kind == VersionSelector::Kind::kLatestAny) {
      sql = kGetLatestAnySql;
    } else if (selector.kind == VersionSelector::Kind::kExact) {
      sql = kGetExactSql;
      params.Int(selector.version);
    }
    std::string alias_sql;
    if (selector.kind == VersionSelector::Kind::kCurrent ||
        selector.kind == VersionSelector::Kind::kAlias) {
      alias_sql = AliasSelectSql(selector.kind == VersionSelector::Kind::kCurrent, false);
      sql = alias_sql;
      if (selector.kind == VersionSelector::Kind::kAlias) {
        params.Text(selector.alias);
      }
    }
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
    if (r.rows() == 0) {
      return Err(NotFoundError("secret not found"));
    }
    if (r.IsNull(0, kVersionColumn)) {
      return Err(MissingVersionError(selector));
    }
    ASSIGN_OR_RETURN(SecretVersion v, ReadVersion(r, 0, /*with_ciphertext=*/true));
    ASSIGN_OR_RETURN(v.aliases, LoadAliases(conn, v.secret_id));
    return v;
  });
}

StatusOr<SecretVersion> PostgresStoreImpl::GetSecretVersionById(std::string_view secret_id,
                                                                VersionSelector selector) {
  return Read([&](PgConnection& conn) -> StatusOr<SecretVersion> {
    PgParams params;
    params.Text(secret_id);
    std::string_view sql = kGetByIdLatestEnabledSql;
    if (selector.kind == VersionSelector::Kind::kLatestAny) {
      sql = kGetByIdLatestAnySql;
    } else if (selector.kind == VersionSelector::Kind::kExact) {
      sql = kGetByIdExactSql;
      params.Int(selector.version);
    }
    std::string alias_sql;
    if (selector.kind == VersionSelector::Kind::kCurrent ||
        selector.kind == VersionSelector::Kind::kAlias) {
      alias_sql = AliasSelectSql(selector.kind == VersionSelector::Kind::kCurrent, true);
      sql = alias_sql;
      if (selector.kind == VersionSelector::Kind::kAlias) {
        params.Text(selector.alias);
      }
    }
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
    if (r.rows() == 0) {
      return Err(NotFoundError("secret not found"));
    }
    if (r.IsNull(0, kVersionColumn)) {
      return Err(MissingVersionError(selector));
    }
    return ReadVersion(r, 0, /*with_ciphertext=*/true);
  });
}

StatusOr<std::vector<SecretVersion>> PostgresStoreImpl::ListSecretVersions(
    std::string_view vault_id, std::string_view path) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<SecretVersion>> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(kListVersionsSql, PgParams().Text(vault_id).Text(path)));
    if (r.rows() == 0) {
      return Err(NotFoundError("secret not found"));
    }
    ASSIGN_OR_RETURN(std::vector<SecretVersion> versions,
                     ReadAll<SecretVersion>(r, [](const PgResult& rr, int row) {
                       return ReadVersion(rr, row, false);
                     }));
    ASSIGN_OR_RETURN(const auto aliases, LoadAliases(conn, versions.front().secret_id));
    for (SecretVersion& v : versions) {
      v.aliases = aliases;
    }
    return versions;
  });
}

StatusOr<SecretListPage> PostgresStoreImpl::ListSecrets(std::string_view vault_id,
                                                        std::string_view prefix,
                                                        std::string_view after, size_t limit) {
  const bool exclusive_lower = !after.empty() && after >= prefix;
  const std::optional<std::string> upper = PrefixUpperBound(prefix);
  return Read([&](PgConnection& conn) -> StatusOr<SecretListPage> {
    PgParams params;
    params.Text(vault_id)
        .Text(exclusive_lower ? after : prefix)
        .Text(upper.value_or(std::string(prefix)));
    // One row more than asked tells whether another page follows; NULL is no limit.
    params.OptionalInt(limit == 0 ? std::nullopt
                                  : std::optional<int64_t>(static_cast<int64_t>(limit) + 1));
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(ListSecretsSql(exclusive_lower, upper.has_value()), params));
    SecretListPage page;
    ASSIGN_OR_RETURN(page.secrets, ReadAll<SecretVersion>(r, [](const PgResult& rr, int row) {
                       return ReadVersion(rr, row, false);
                     }));
    if (limit != 0 && page.secrets.size() > limit) {
      page.secrets.resize(limit);
      page.next_after = page.secrets.back().path;
    }
    return page;
  });
}

Status PostgresStoreImpl::DeleteSecret(std::string_view vault_id, std::string_view path,
                                       const AuditEvent* audit) {
  const StoreChange change = StoreChange::Secret(std::string(vault_id), std::string(path));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("DELETE FROM secrets WHERE vault_id = $1 AND path = $2",
                                           PgParams().Text(vault_id).Text(path)));
    if (r.affected() == 0) {
      return NotFoundError("secret not found");
    }
    return OkStatus();
  });
}

StatusOr<SecretVersion> PostgresStoreImpl::DisableSecretVersion(std::string_view vault_id,
                                                                std::string_view path,
                                                                int64_t version, UnixMicros at,
                                                                const AuditEvent* audit) {
  SecretVersion result;
  const StoreChange change = StoreChange::Secret(std::string(vault_id), std::string(path));
  RETURN_IF_ERROR(WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // COALESCE keeps the first time of a repeated disable.
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec(kDisableSql, PgParams().Text(vault_id).Text(path).Int(version).Int(at)));
    if (r.rows() == 0) {
      ASSIGN_OR_RETURN(PgResult secret,
                       conn.Exec("SELECT 1 FROM secrets WHERE vault_id = $1 AND path = $2",
                                 PgParams().Text(vault_id).Text(path)));
      return NotFoundError(secret.rows() == 0 ? "secret not found" : VersionNotFound(version));
    }
    ASSIGN_OR_RETURN(result, ReadVersion(r, 0, /*with_ciphertext=*/false));
    ASSIGN_OR_RETURN(result.aliases, LoadAliases(conn, result.secret_id));
    return OkStatus();
  }));
  return result;
}

StatusOr<int64_t> PostgresStoreImpl::ConsumeSecretAccess(std::string_view secret_id,
                                                         int64_t version, const AuditEvent* audit) {
  int64_t count = 0;
  RETURN_IF_ERROR(Write(audit, [&](PgConnection& conn, AuditEvent* event) -> Status {
    // The row lock the UPDATE takes makes concurrent readers on every server count one
    // after another; the WHERE clause is re-checked on the latest row, so no read past the
    // limit is ever granted.
    ASSIGN_OR_RETURN(PgResult counted,
                     conn.Exec("UPDATE secret_versions SET access_count = access_count + 1"
                               " WHERE secret_id = $1 AND version = $2"
                               " AND disabled_at IS NULL AND max_access_count > 0"
                               " AND access_count < max_access_count RETURNING access_count",
                               PgParams().Text(secret_id).Int(version)));
    if (counted.rows() == 1) {
      count = counted.Int(0, 0);
      if (event != nullptr) {
        event->version = version;
      }
      return OkStatus();
    }
    ASSIGN_OR_RETURN(PgResult why,
                     conn.Exec("SELECT disabled_at IS NOT NULL, max_access_count"
                               " FROM secret_versions WHERE secret_id = $1 AND version = $2",
                               PgParams().Text(secret_id).Int(version)));
    if (why.rows() == 0) {
      return NotFoundError(VersionNotFound(version));
    }
    if (why.Bool(0, 0)) {
      return GoneError("this version is disabled");
    }
    if (why.Int(0, 1) == 0) {
      return FailedPreconditionError("store: this version has no read limit to count against");
    }
    return GoneError("this version has no reads left");
  }));
  return count;
}

// --- copying a store (coffer migrate) ----------------------------------------------------------

Status PostgresStoreImpl::ImportSecretVersion(const SecretVersion& v) {
  return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
    if (v.version == 1) {
      Status s = conn.Run(
          "INSERT INTO secrets (id, vault_id, path, created_at, latest_version)"
          " VALUES ($1, $2, $3, $4, 1)",
          PgParams().Text(v.secret_id).Text(v.vault_id).Text(v.path).Int(v.created_at));
      RETURN_IF_ERROR(Reword(Reword(std::move(s), StatusCode::kNotFound, "vault not found"),
                             StatusCode::kAlreadyExists, "the secret already exists"));
    } else {
      ASSIGN_OR_RETURN(
          PgResult r,
          conn.Exec("UPDATE secrets SET latest_version = $2"
                    " WHERE id = $1 AND vault_id = $3 AND path = $4"
                    " AND latest_version = $2 - 1",
                    PgParams().Text(v.secret_id).Int(v.version).Text(v.vault_id).Text(v.path)));
      if (r.affected() == 0) {
        return FailedPreconditionError("store: versions must be imported in order from 1");
      }
    }
    RETURN_IF_ERROR(InsertVersionRow(conn, v, v.ciphertext));
    return conn.Run("UPDATE secrets SET max_versions = $2 WHERE id = $1",
                    PgParams().Text(v.secret_id).Int(v.secret_max_versions));
  });
}

}  // namespace coffer::postgres_internal
