// SqliteStore: the Store methods as SQL. Reads run on a leased read-only connection; writes are
// closures handed to the group-commit writer, which runs them in a shared transaction.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "common/ids.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/sqlite_migrations.h"
#include "store/sqlite/sqlite_reader_pool.h"

namespace coffer {

namespace {

// How long a connection waits for a lock held by another process before giving up (kUnavailable).
constexpr int kBusyTimeoutMs = 5000;

// The columns ReadVersion() expects, from `secrets AS s` joined with `secret_versions AS v`;
// queries that return the value add v.ciphertext as column kCiphertextColumn.
#define COFFER_VERSION_COLUMNS                                                             \
  "s.id, s.vault_id, s.path, v.version, v.type, v.metadata_json, v.rotation_policy_json, " \
  "v.expires_at, v.max_access_count, v.access_count, v.disabled_at, v.created_at, v.created_by"
constexpr int kVersionColumn = 3;
constexpr int kCiphertextColumn = 13;

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

#undef COFFER_VERSION_COLUMNS

constexpr std::string_view kVaultColumnsSql =
    "SELECT id, name, description, owner_id, created_at FROM vaults";

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

// Keeps `s` unless it has code `code`, in which case the message is replaced by `message`.
Status Reword(Status s, StatusCode code, std::string message) {
  if (s.code() != code) {
    return s;
  }
  return Status(code, std::move(message));
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
  if (with_ciphertext) {
    v.ciphertext = st.ColumnBlob(kCiphertextColumn);
  }
  return v;
}

StatusOr<std::vector<SecretVersion>> ReadVersions(SqliteStatement& st) {
  std::vector<SecretVersion> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return out;
    }
    ASSIGN_OR_RETURN(SecretVersion v, ReadVersion(st, /*with_ciphertext=*/false));
    out.push_back(std::move(v));
  }
}

Vault ReadVault(const SqliteStatement& st) {
  Vault v;
  v.id = st.ColumnText(0);
  v.name = st.ColumnText(1);
  v.description = st.ColumnText(2);
  v.owner_id = st.ColumnText(3);
  v.created_at = st.ColumnInt(4);
  return v;
}

// True when `sql` (with ?1, ?2 bound to a and b) returns a row.
StatusOr<bool> Exists(SqliteConnection& db, std::string_view sql, std::string_view a,
                      std::optional<std::string_view> b = std::nullopt) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(sql));
  st.BindText(1, a);
  if (b.has_value()) {
    st.BindText(2, *b);
  }
  return st.Step();
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

std::string VersionNotFound(int64_t version) {
  return "version " + std::to_string(version) + " not found";
}

// Creates `path` with mode 0600 if it does not exist: the database holds wrapped keys and
// credential HMACs, and SQLite gives its -wal and -shm files the database file's mode.
Status CreateDatabaseFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return FailedPreconditionError("store: cannot create " + path +
                                     ": its directory does not exist");
    }
    return UnavailableError("store: cannot open " + path + ": " + std::strerror(error));
  }
  ::close(fd);
  return OkStatus();
}

Status ConfigureWriter(SqliteConnection& db) {
  {
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("PRAGMA journal_mode = WAL"));
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row || st.ColumnText(0) != "wal") {
      return FailedPreconditionError("store: cannot switch the database to WAL mode");
    }
  }
  return db.Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
}

class SqliteStoreImpl final : public SqliteStore {
 public:
  SqliteStoreImpl(std::unique_ptr<GroupCommitWriter> writer,
                  std::unique_ptr<SqliteReaderPool> readers)
      : writer_(std::move(writer)), readers_(std::move(readers)) {}

  ~SqliteStoreImpl() override {
    // Readers first, so the writer's final checkpoint is the last word on the file.
    readers_.reset();
    writer_.reset();
  }

  SqliteStoreStats Stats() const override {
    const GroupCommitStats s = writer_->Stats();
    return SqliteStoreStats{s.ops, s.commits, s.largest_batch, s.pending};
  }

  // --- keyring -----------------------------------------------------------------------------

  StatusOr<std::vector<WrappedKey>> LoadKeys() override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT id, purpose, wrapped, created_at, active FROM keys"
                                 " ORDER BY id"));
    std::vector<WrappedKey> keys;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) {
        return keys;
      }
      WrappedKey k;
      k.id = static_cast<uint32_t>(st.ColumnInt(0));
      k.purpose = st.ColumnText(1);
      k.wrapped = st.ColumnBlob(2);
      k.created_at = st.ColumnInt(3);
      k.active = st.ColumnInt(4) != 0;
      keys.push_back(std::move(k));
    }
  }

  Status InsertKey(const WrappedKey& key) override {
    return writer_->Run([&](SqliteConnection& db) -> Status {
      {
        ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT 1 FROM keys WHERE id = ?1"));
        st.BindInt(1, key.id);
        ASSIGN_OR_RETURN(const bool taken, st.Step());
        if (taken) {
          return AlreadyExistsError("key " + std::to_string(key.id) + " already exists");
        }
      }
      if (key.active) {
        ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE keys SET active = 0"
                                                        " WHERE purpose = ?1 AND active = 1"));
        st.BindText(1, key.purpose);
        RETURN_IF_ERROR(st.Run());
      }
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO keys (id, purpose, wrapped, created_at, active)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5)"));
      st.BindInt(1, key.id);
      st.BindText(2, key.purpose);
      st.BindBlob(3, key.wrapped);
      st.BindInt(4, key.created_at);
      st.BindInt(5, key.active ? 1 : 0);
      return st.Run();
    });
  }

  // --- users and credentials ---------------------------------------------------------------

  Status InsertUser(const User& user) override {
    return writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(const bool taken,
                       Exists(db, "SELECT 1 FROM users WHERE name = ?1", user.name));
      if (taken) {
        return AlreadyExistsError("a user named '" + user.name + "' already exists");
      }
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO users (id, name, is_admin, created_at)"
                                  " VALUES (?1, ?2, ?3, ?4)"));
      st.BindText(1, user.id);
      st.BindText(2, user.name);
      st.BindInt(3, user.is_admin ? 1 : 0);
      st.BindInt(4, user.created_at);
      return Reword(st.Run(), StatusCode::kAlreadyExists, "a user with this id already exists");
    });
  }

  StatusOr<User> GetUser(std::string_view id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT id, name, is_admin, created_at FROM users"
                                 " WHERE id = ?1"));
    st.BindText(1, id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("user not found"));
    }
    return User{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2) != 0, st.ColumnInt(3)};
  }

  Status InsertCredential(const Credential& c) override {
    return writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO credentials (public_id, kind, principal_kind,"
                                  " principal_id, name, secret_hmac, created_at, revoked_at)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
      st.BindText(1, c.public_id);
      st.BindText(2, c.kind);
      st.BindText(3, PrincipalKindName(c.principal_kind));
      st.BindText(4, c.principal_id);
      st.BindText(5, c.name);
      st.BindBlob(6, c.secret_hmac);
      st.BindInt(7, c.created_at);
      st.BindOptionalInt(8, c.revoked_at);
      return Reword(st.Run(), StatusCode::kAlreadyExists, "the credential already exists");
    });
  }

  StatusOr<Credential> GetCredential(std::string_view public_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT public_id, kind, principal_kind, principal_id, name,"
                                 " secret_hmac, created_at, revoked_at FROM credentials"
                                 " WHERE public_id = ?1"));
    st.BindText(1, public_id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("credential not found"));
    }
    Credential c;
    c.public_id = st.ColumnText(0);
    c.kind = st.ColumnText(1);
    const std::string kind = st.ColumnText(2);
    if (kind == PrincipalKindName(PrincipalKind::kUser)) {
      c.principal_kind = PrincipalKind::kUser;
    } else if (kind == PrincipalKindName(PrincipalKind::kAgent)) {
      c.principal_kind = PrincipalKind::kAgent;
    } else {
      return Err(DataLossError("store: a credential has an unknown principal kind"));
    }
    c.principal_id = st.ColumnText(3);
    c.name = st.ColumnText(4);
    c.secret_hmac = st.ColumnBlob(5);
    c.created_at = st.ColumnInt(6);
    c.revoked_at = st.ColumnOptionalInt(7);
    return c;
  }

  // --- vaults ------------------------------------------------------------------------------

  Status InsertVault(const Vault& vault) override {
    return writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(const bool taken,
                       Exists(db, "SELECT 1 FROM vaults WHERE owner_id = ?1 AND name = ?2",
                              vault.owner_id, vault.name));
      if (taken) {
        return AlreadyExistsError("a vault named '" + vault.name + "' already exists");
      }
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO vaults (id, name, description, owner_id,"
                                  " created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
      st.BindText(1, vault.id);
      st.BindText(2, vault.name);
      st.BindText(3, vault.description);
      st.BindText(4, vault.owner_id);
      st.BindInt(5, vault.created_at);
      return Reword(st.Run(), StatusCode::kAlreadyExists, "a vault with this id already exists");
    });
  }

  StatusOr<Vault> GetVault(std::string_view vault_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare(std::string(kVaultColumnsSql) + " WHERE id = ?1"));
    st.BindText(1, vault_id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("vault not found"));
    }
    return ReadVault(st);
  }

  StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) override {
    auto db = readers_->Acquire();
    // rowid breaks ties in insertion order.
    std::string sql(kVaultColumnsSql);
    sql += owner_id.has_value() ? " WHERE owner_id = ?1 ORDER BY created_at, rowid"
                                : " ORDER BY created_at, rowid";
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
    if (owner_id.has_value()) {
      st.BindText(1, *owner_id);
    }
    std::vector<Vault> vaults;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) {
        return vaults;
      }
      vaults.push_back(ReadVault(st));
    }
  }

  Status DeleteVault(std::string_view vault_id) override {
    return writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM vaults WHERE id = ?1"));
      st.BindText(1, vault_id);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return NotFoundError("vault not found");
      }
      return OkStatus();
    });
  }

  // --- secrets -----------------------------------------------------------------------------

  StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& in,
                                           const SealFunction& seal) override {
    SecretVersion stored;
    RETURN_IF_ERROR(writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(const bool vault_exists,
                       Exists(db, "SELECT 1 FROM vaults WHERE id = ?1", in.vault_id));
      if (!vault_exists) {
        return NotFoundError("vault not found");
      }
      ASSIGN_OR_RETURN(const std::optional<SecretRow> secret, FindSecret(db, in.vault_id, in.path));
      // The writer thread runs one operation at a time, so latest_version + 1 is unique and
      // leaves no gap; PRIMARY KEY (secret_id, version) backs that up.
      SecretVersion header;
      header.secret_id = secret.has_value() ? secret->id : NewUuid();
      header.vault_id = in.vault_id;
      header.path = in.path;
      header.version = secret.has_value() ? secret->latest_version + 1 : 1;
      header.type = in.type;
      header.metadata_json = in.metadata_json;
      header.rotation_policy_json = in.rotation_policy_json;
      header.expires_at = in.expires_at;
      header.max_access_count = in.max_access_count;
      header.created_at = in.created_at;
      header.created_by = in.created_by;
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
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO secret_versions (secret_id, version, type,"
                                  " metadata_json, rotation_policy_json, expires_at,"
                                  " max_access_count, access_count, disabled_at, created_at,"
                                  " created_by, ciphertext)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, NULL, ?8, ?9, ?10)"));
      st.BindText(1, header.secret_id);
      st.BindInt(2, header.version);
      st.BindText(3, SecretTypeName(header.type));
      st.BindText(4, header.metadata_json);
      st.BindText(5, header.rotation_policy_json);
      st.BindOptionalInt(6, header.expires_at);
      st.BindInt(7, header.max_access_count);
      st.BindInt(8, header.created_at);
      st.BindText(9, header.created_by);
      st.BindBlob(10, ciphertext);
      RETURN_IF_ERROR(st.Run());
      stored = std::move(header);
      return OkStatus();
    }));
    return stored;
  }

  StatusOr<SecretVersion> GetSecretVersion(std::string_view vault_id, std::string_view path,
                                           VersionSelector selector) override {
    auto db = readers_->Acquire();
    std::string_view sql = kGetLatestEnabledSql;
    if (selector.kind == VersionSelector::Kind::kLatestAny) {
      sql = kGetLatestAnySql;
    } else if (selector.kind == VersionSelector::Kind::kExact) {
      sql = kGetExactSql;
    }
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
    st.BindText(1, vault_id);
    st.BindText(2, path);
    if (selector.kind == VersionSelector::Kind::kExact) {
      st.BindInt(3, selector.version);
    }
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("secret not found"));
    }
    if (st.ColumnIsNull(kVersionColumn)) {
      switch (selector.kind) {
        case VersionSelector::Kind::kLatestEnabled:
          return Err(GoneError("every version of this secret is disabled"));
        case VersionSelector::Kind::kExact:
          return Err(NotFoundError(VersionNotFound(selector.version)));
        case VersionSelector::Kind::kLatestAny:
          break;
      }
      return Err(DataLossError("store: a secret has no row for its latest version"));
    }
    return ReadVersion(st, /*with_ciphertext=*/true);
  }

  StatusOr<std::vector<SecretVersion>> ListSecretVersions(std::string_view vault_id,
                                                          std::string_view path) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(kListVersionsSql));
    st.BindText(1, vault_id);
    st.BindText(2, path);
    ASSIGN_OR_RETURN(std::vector<SecretVersion> versions, ReadVersions(st));
    if (versions.empty()) {
      // A secret is created with its first version and never loses its last one.
      return Err(NotFoundError("secret not found"));
    }
    return versions;
  }

  StatusOr<SecretListPage> ListSecrets(std::string_view vault_id, std::string_view prefix,
                                       std::string_view after, size_t limit) override {
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

  Status DeleteSecret(std::string_view vault_id, std::string_view path) override {
    return writer_->Run([&](SqliteConnection& db) -> Status {
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

  StatusOr<SecretVersion> DisableSecretVersion(std::string_view vault_id, std::string_view path,
                                               int64_t version, UnixMicros at) override {
    SecretVersion result;
    RETURN_IF_ERROR(writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(const std::optional<SecretRow> secret, FindSecret(db, vault_id, path));
      if (!secret.has_value()) {
        return NotFoundError("secret not found");
      }
      {
        // `disabled_at IS NULL` keeps the first time of a repeated disable.
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("UPDATE secret_versions SET disabled_at = ?3"
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
      return OkStatus();
    }));
    return result;
  }

  StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version) override {
    int64_t count = 0;
    RETURN_IF_ERROR(writer_->Run([&](SqliteConnection& db) -> Status {
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

 private:
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<SqliteReaderPool> readers_;
};

}  // namespace

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return Err(InvalidArgumentError("store: the database path is empty"));
  }
  if (options.reader_connections < 1 || options.max_batch < 1) {
    return Err(InvalidArgumentError("store: reader_connections and max_batch must be at least 1"));
  }
  if (sqlite3_threadsafe() == 0) {
    return Err(FailedPreconditionError("store: SQLite was built without thread support"));
  }
  RETURN_IF_ERROR(CreateDatabaseFile(options.path));
  ASSIGN_OR_RETURN(auto db, SqliteConnection::Open(options.path, SqliteConnection::Mode::kReadWrite,
                                                   kBusyTimeoutMs));
  RETURN_IF_ERROR(ConfigureWriter(*db));
  RETURN_IF_ERROR(ApplySqliteMigrations(*db, SqliteMigrations(), SystemClock().Now()));
  // Readers open after the writer has put the file in WAL mode and created its schema.
  ASSIGN_OR_RETURN(auto readers, SqliteReaderPool::Open(options.path, options.reader_connections,
                                                        kBusyTimeoutMs));
  ASSIGN_OR_RETURN(auto writer, GroupCommitWriter::Start(std::move(db), options.max_batch));
  return std::make_unique<SqliteStoreImpl>(std::move(writer), std::move(readers));
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace coffer
