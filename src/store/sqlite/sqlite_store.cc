// SqliteStore: the Store methods as SQL. Reads run on a leased read-only connection; writes are
// closures handed to the group-commit writer, which runs them in a shared transaction, each
// followed by its audit event when it has one.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <type_traits>
#include <utility>

#include "common/file_mode.h"
#include "common/ids.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_audit_log.h"
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

User ReadUser(const SqliteStatement& st) {
  return User{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2) != 0, st.ColumnInt(3)};
}

// A row when credential ?1 is an unrevoked API key of an admin and no other admin API key is
// unrevoked.
constexpr std::string_view kIsLastAdminKeySql =
    "SELECT 1 FROM credentials c JOIN users u ON u.id = c.principal_id"
    " WHERE c.public_id = ?1 AND c.principal_kind = 'user' AND c.kind = 'key'"
    " AND c.revoked_at IS NULL AND u.is_admin = 1"
    " AND NOT EXISTS (SELECT 1 FROM credentials o JOIN users a ON a.id = o.principal_id"
    " WHERE o.public_id <> c.public_id AND o.principal_kind = 'user' AND o.kind = 'key'"
    " AND o.revoked_at IS NULL AND a.is_admin = 1)";

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
// credential HMACs, and SQLite gives its -wal and -shm files the database file's mode. Then
// refuses a database, -wal or -shm file other users could read or change, and a directory they
// could write to (they could replace the files or plant a -wal): kFailedPrecondition naming the
// file, its mode and the chmod that fixes it.
Status PrepareDatabaseFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return FailedPreconditionError("store: cannot create " + path +
                                     ": its directory does not exist");
    }
    return UnavailableError("store: cannot open " + path + ": " + std::strerror(error));
  }
  struct stat st {};
  const int stat_rc = ::fstat(fd, &st);
  const int stat_error = errno;
  ::close(fd);
  if (stat_rc != 0) {
    return UnavailableError("store: cannot stat " + path + ": " + std::strerror(stat_error));
  }
  RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "store file", path));
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (::stat(side.c_str(), &st) == 0) {
      RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "store file", side));
    }
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (::stat(dir.c_str(), &st) != 0) {
    return UnavailableError("store: cannot stat " + dir + ": " + std::strerror(errno));
  }
  if (Status s = CheckPrivateDirectory(st, dir); !s.ok()) {
    return Status(s.code(), "store: " + s.message());
  }
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

// --- rows of the identity tables ----------------------------------------------------------------

constexpr std::string_view kCredentialColumnsSql =
    "SELECT public_id, kind, principal_kind, principal_id, name, secret_hmac, created_at,"
    " revoked_at FROM credentials";
constexpr std::string_view kAgentColumnsSql =
    "SELECT id, name, description, owner_id, created_at, revoked_at FROM agents";
constexpr std::string_view kPolicyColumnsSql =
    "SELECT id, vault_id, principal_kind, principal_id, path_glob, permissions, expires_at,"
    " created_at, created_by FROM policies";

StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view name, std::string_view row_kind) {
  if (name == PrincipalKindName(PrincipalKind::kUser)) {
    return PrincipalKind::kUser;
  }
  if (name == PrincipalKindName(PrincipalKind::kAgent)) {
    return PrincipalKind::kAgent;
  }
  return Err(DataLossError("store: a " + std::string(row_kind) + " has an unknown principal kind"));
}

StatusOr<Credential> ReadCredential(const SqliteStatement& st) {
  Credential c;
  c.public_id = st.ColumnText(0);
  c.kind = st.ColumnText(1);
  ASSIGN_OR_RETURN(c.principal_kind, ParsePrincipalKind(st.ColumnText(2), "credential"));
  c.principal_id = st.ColumnText(3);
  c.name = st.ColumnText(4);
  c.secret_hmac = st.ColumnBlob(5);
  c.created_at = st.ColumnInt(6);
  c.revoked_at = st.ColumnOptionalInt(7);
  return c;
}

Agent ReadAgent(const SqliteStatement& st) {
  Agent a;
  a.id = st.ColumnText(0);
  a.name = st.ColumnText(1);
  a.description = st.ColumnText(2);
  a.owner_id = st.ColumnText(3);
  a.created_at = st.ColumnInt(4);
  a.revoked_at = st.ColumnOptionalInt(5);
  return a;
}

StatusOr<Policy> ReadPolicy(const SqliteStatement& st) {
  Policy p;
  p.id = st.ColumnText(0);
  p.vault_id = st.ColumnText(1);
  ASSIGN_OR_RETURN(p.principal_kind, ParsePrincipalKind(st.ColumnText(2), "policy"));
  p.principal_id = st.ColumnText(3);
  p.path_glob = st.ColumnText(4);
  p.permissions = static_cast<uint8_t>(st.ColumnInt(5));
  p.expires_at = st.ColumnOptionalInt(6);
  p.created_at = st.ColumnInt(7);
  p.created_by = st.ColumnText(8);
  return p;
}

// Every row of `st`, read by `read` (returning T or StatusOr<T>).
template <typename T, typename Read>
StatusOr<std::vector<T>> ReadAll(SqliteStatement& st, Read read) {
  std::vector<T> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return out;
    }
    if constexpr (std::is_same_v<std::invoke_result_t<Read, const SqliteStatement&>, T>) {
      out.push_back(read(st));
    } else {
      ASSIGN_OR_RETURN(T value, read(st));
      out.push_back(std::move(value));
    }
  }
}

Status InsertCredentialRow(SqliteConnection& db, const Credential& c) {
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
}

// kInvalidArgument unless every credential names agent `agent_id` as its principal: the store
// must never let an agent operation mint credentials for someone else.
Status CheckAgentCredentials(std::string_view agent_id, const std::vector<Credential>& creds) {
  for (const Credential& c : creds) {
    if (c.principal_kind != PrincipalKind::kAgent || c.principal_id != agent_id) {
      return InvalidArgumentError("store: a credential does not belong to the agent");
    }
  }
  return OkStatus();
}

// Revokes, at `at`, every credential of the agent that is not revoked yet.
Status RevokeAgentCredentialRows(SqliteConnection& db, std::string_view agent_id, UnixMicros at) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("UPDATE credentials SET revoked_at = ?2"
                              " WHERE principal_kind = 'agent' AND principal_id = ?1"
                              " AND revoked_at IS NULL"));
  st.BindText(1, agent_id);
  st.BindInt(2, at);
  return st.Run();
}

// Puts the audit chain's cached head back as it was when a write operation began, unless the
// operation succeeded: its SAVEPOINT rollback removed any event it appended. Writer thread.
class ChainHeadGuard {
 public:
  explicit ChainHeadGuard(SqliteAuditChain& chain) : chain_(chain), saved_(chain.cached()) {}
  ChainHeadGuard(const ChainHeadGuard&) = delete;
  ChainHeadGuard& operator=(const ChainHeadGuard&) = delete;
  ~ChainHeadGuard() {
    if (!kept_) {
      chain_.Restore(saved_);
    }
  }
  void Keep() { kept_ = true; }

 private:
  SqliteAuditChain& chain_;
  const std::optional<SqliteAuditChain::Head> saved_;
  bool kept_ = false;
};

class SqliteStoreImpl final : public SqliteStore {
 public:
  // `audit_chain` is the one the writer's rollback listener forgets.
  SqliteStoreImpl(std::unique_ptr<SqliteAuditChain> audit_chain,
                  std::unique_ptr<GroupCommitWriter> writer,
                  std::unique_ptr<SqliteReaderPool> readers)
      : audit_chain_(std::move(audit_chain)),
        writer_(std::move(writer)),
        readers_(std::move(readers)) {}

  ~SqliteStoreImpl() override {
    // Readers first, so the writer's final checkpoint is the last word on the file. The audit
    // chain goes last: the writer thread uses it until it stops.
    readers_.reset();
    writer_.reset();
  }

  SqliteStoreStats Stats() const override {
    const GroupCommitStats s = writer_->Stats();
    return SqliteStoreStats{.write_ops = s.ops,
                            .commits = s.commits,
                            .syncs = s.syncs,
                            .sync_failures = s.sync_failures,
                            .largest_batch = s.largest_batch,
                            .pending_ops = s.pending};
  }

  // --- keyring -----------------------------------------------------------------------------

  StatusOr<std::vector<WrappedKey>> LoadKeys() override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT id, purpose, wrapped, created_at, active FROM keys"
                                 " ORDER BY id"));
    return ReadAll<WrappedKey>(st, [](const SqliteStatement& row) {
      WrappedKey k;
      k.id = static_cast<uint32_t>(row.ColumnInt(0));
      k.purpose = row.ColumnText(1);
      k.wrapped = row.ColumnBlob(2);
      k.created_at = row.ColumnInt(3);
      k.active = row.ColumnInt(4) != 0;
      return k;
    });
  }

  Status InsertKey(const WrappedKey& key) override {
    return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
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

  // --- data key rotation -------------------------------------------------------------------

  StatusOr<std::vector<StoredCiphertext>> ListCiphertextsNotUnderKey(
      uint32_t key_id, std::string_view after_secret_id, int64_t after_version,
      size_t limit) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db->Prepare("SELECT s.vault_id, v.secret_id, s.path, v.version, v.ciphertext"
                    " FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id"
                    " WHERE (v.secret_id, v.version) > (?1, ?2)"
                    " AND substr(v.ciphertext, 2, 4) IS NOT ?3"
                    " ORDER BY v.secret_id, v.version LIMIT ?4"));
    st.BindText(1, after_secret_id);
    st.BindInt(2, after_version);
    st.BindBlob(3, KeyIdBytes(key_id));
    st.BindInt(4, static_cast<int64_t>(std::max<size_t>(limit, 1)));
    return ReadAll<StoredCiphertext>(st, [](const SqliteStatement& row) {
      StoredCiphertext c;
      c.vault_id = row.ColumnText(0);
      c.secret_id = row.ColumnText(1);
      c.path = row.ColumnText(2);
      c.version = row.ColumnInt(3);
      c.ciphertext = row.ColumnBlob(4);
      return c;
    });
  }

  StatusOr<int64_t> SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) override {
    int64_t swapped = 0;
    RETURN_IF_ERROR(Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
      swapped = 0;
      for (const CiphertextSwap& swap : swaps) {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("UPDATE secret_versions SET ciphertext = ?4 WHERE"
                                    " secret_id = ?1 AND version = ?2 AND ciphertext = ?3"));
        st.BindText(1, swap.secret_id);
        st.BindInt(2, swap.version);
        st.BindBlob(3, swap.expected);
        st.BindBlob(4, swap.replacement);
        RETURN_IF_ERROR(st.Run());
        swapped += db.Changes();
      }
      return OkStatus();
    }));
    return swapped;
  }

  StatusOr<std::map<int64_t, int64_t>> CountCiphertextsByKey() override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT substr(ciphertext, 2, 4) AS k, count(*)"
                                 " FROM secret_versions GROUP BY k"));
    std::map<int64_t, int64_t> counts;
    while (true) {
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) {
        return counts;
      }
      counts[KeyIdOf(st.ColumnBlob(0))] += st.ColumnInt(1);
    }
  }

  Status DeleteDataKey(uint32_t id) override {
    return Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("SELECT active FROM keys WHERE id = ?1 AND purpose = 'data'"));
        st.BindInt(1, id);
        ASSIGN_OR_RETURN(const bool found, st.Step());
        if (!found) {
          return NotFoundError("there is no data key " + std::to_string(id));
        }
        if (st.ColumnInt(0) != 0) {
          return FailedPreconditionError("data key " + std::to_string(id) +
                                         " is the active key; rotate first");
        }
      }
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("SELECT count(*) FROM secret_versions"
                                    " WHERE substr(ciphertext, 2, 4) = ?1"));
        st.BindBlob(1, KeyIdBytes(id));
        ASSIGN_OR_RETURN(const bool row, st.Step());
        const int64_t in_use = row ? st.ColumnInt(0) : 0;
        if (in_use > 0) {
          return FailedPreconditionError(std::to_string(in_use) +
                                         " secret versions are still encrypted under data key " +
                                         std::to_string(id) + "; run coffer keys reencrypt");
        }
      }
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM keys WHERE id = ?1"));
      st.BindInt(1, id);
      return st.Run();
    });
  }

  // --- users and credentials ---------------------------------------------------------------

  Status InsertUser(const User& user, const AuditEvent* audit) override {
    return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
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

  StatusOr<std::vector<User>> ListUsers() override {
    auto db = readers_->Acquire();
    // rowid breaks ties in insertion order.
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare("SELECT id, name, is_admin, created_at FROM users"
                                 " ORDER BY created_at, rowid"));
    return ReadAll<User>(st, ReadUser);
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
    return ReadUser(st);
  }

  Status InsertCredential(const Credential& c, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Credential(c.public_id);
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      return InsertCredentialRow(db, c);
    });
  }

  StatusOr<Credential> GetCredential(std::string_view public_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare(std::string(kCredentialColumnsSql) + " WHERE public_id = ?1"));
    st.BindText(1, public_id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("credential not found"));
    }
    return ReadCredential(st);
  }

  StatusOr<std::vector<Credential>> ListCredentials(PrincipalKind kind,
                                                    std::string_view principal_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare(std::string(kCredentialColumnsSql) +
                                 " WHERE principal_kind = ?1 AND principal_id = ?2"
                                 " ORDER BY created_at, rowid"));
    st.BindText(1, PrincipalKindName(kind));
    st.BindText(2, principal_id);
    return ReadAll<Credential>(st, ReadCredential);
  }

  Status RevokeCredential(std::string_view public_id, UnixMicros at,
                          const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Credential(std::string(public_id));
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      // The writer runs one operation at a time, so nothing revokes an admin key between this
      // check and the UPDATE.
      ASSIGN_OR_RETURN(const bool last_admin_key, Exists(db, kIsLastAdminKeySql, public_id));
      if (last_admin_key) {
        return FailedPreconditionError(std::string(kLastAdminKey));
      }
      // COALESCE keeps the first revocation's time.
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE credentials SET revoked_at = COALESCE(revoked_at, ?2)"
                                  " WHERE public_id = ?1"));
      st.BindText(1, public_id);
      st.BindInt(2, at);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return NotFoundError("credential not found");
      }
      return OkStatus();
    });
  }

  // --- agents ------------------------------------------------------------------------------

  Status InsertAgent(const Agent& agent, const std::vector<Credential>& credentials,
                     const AuditEvent* audit) override {
    RETURN_IF_ERROR(CheckAgentCredentials(agent.id, credentials));
    const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, agent.id);
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(const bool taken,
                       Exists(db, "SELECT 1 FROM agents WHERE owner_id = ?1 AND name = ?2",
                              agent.owner_id, agent.name));
      if (taken) {
        return AlreadyExistsError("an agent named '" + agent.name + "' already exists");
      }
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("INSERT INTO agents (id, name, description, owner_id,"
                                    " created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
        st.BindText(1, agent.id);
        st.BindText(2, agent.name);
        st.BindText(3, agent.description);
        st.BindText(4, agent.owner_id);
        st.BindInt(5, agent.created_at);
        st.BindOptionalInt(6, agent.revoked_at);
        RETURN_IF_ERROR(
            Reword(st.Run(), StatusCode::kAlreadyExists, "an agent with this id already exists"));
      }
      for (const Credential& c : credentials) {
        RETURN_IF_ERROR(InsertCredentialRow(db, c));
      }
      return OkStatus();
    });
  }

  StatusOr<Agent> GetAgent(std::string_view agent_id) override {
    return GetById(kAgentColumnsSql, agent_id, "agent not found", ReadAgent);
  }

  StatusOr<std::vector<Agent>> ListAgents(std::optional<std::string_view> owner_id) override {
    return ListByOwner(kAgentColumnsSql, owner_id, ReadAgent);
  }

  Status RevokeAgent(std::string_view agent_id, UnixMicros at, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("UPDATE agents SET revoked_at = COALESCE(revoked_at, ?2)"
                                    " WHERE id = ?1"));
        st.BindText(1, agent_id);
        st.BindInt(2, at);
        RETURN_IF_ERROR(st.Run());
        if (db.Changes() == 0) {
          return NotFoundError("agent not found");
        }
      }
      return RevokeAgentCredentialRows(db, agent_id, at);
    });
  }

  Status ReplaceAgentCredentials(std::string_view agent_id,
                                 const std::vector<std::string>& expected_active,
                                 const std::vector<Credential>& fresh, UnixMicros at,
                                 const AuditEvent* audit) override {
    RETURN_IF_ERROR(CheckAgentCredentials(agent_id, fresh));
    const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("SELECT revoked_at IS NOT NULL FROM agents WHERE id = ?1"));
        st.BindText(1, agent_id);
        ASSIGN_OR_RETURN(const bool row, st.Step());
        if (!row) {
          return NotFoundError("agent not found");
        }
        if (st.ColumnInt(0) != 0) {
          return FailedPreconditionError("the agent is revoked");
        }
      }
      // The writer runs one operation at a time, so nothing can change between this check and
      // the swap below.
      for (const std::string& public_id : expected_active) {
        ASSIGN_OR_RETURN(const bool active,
                         Exists(db,
                                "SELECT 1 FROM credentials WHERE public_id = ?1"
                                " AND principal_kind = 'agent' AND principal_id = ?2"
                                " AND revoked_at IS NULL",
                                public_id, agent_id));
        if (!active) {
          return AbortedError("the agent's credentials changed since they were read");
        }
      }
      RETURN_IF_ERROR(RevokeAgentCredentialRows(db, agent_id, at));
      for (const Credential& c : fresh) {
        RETURN_IF_ERROR(InsertCredentialRow(db, c));
      }
      return OkStatus();
    });
  }

  // --- policies ----------------------------------------------------------------------------

  Status InsertPolicy(const Policy& p, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Policies(p.vault_id);
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(const bool vault_exists,
                       Exists(db, "SELECT 1 FROM vaults WHERE id = ?1", p.vault_id));
      if (!vault_exists) {
        return NotFoundError("vault not found");
      }
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO policies (id, vault_id, principal_kind,"
                                  " principal_id, path_glob, permissions, expires_at, created_at,"
                                  " created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
      st.BindText(1, p.id);
      st.BindText(2, p.vault_id);
      st.BindText(3, PrincipalKindName(p.principal_kind));
      st.BindText(4, p.principal_id);
      st.BindText(5, p.path_glob);
      st.BindInt(6, p.permissions);
      st.BindOptionalInt(7, p.expires_at);
      st.BindInt(8, p.created_at);
      st.BindText(9, p.created_by);
      return Reword(st.Run(), StatusCode::kAlreadyExists, "a policy with this id already exists");
    });
  }

  StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(std::string(kPolicyColumnsSql) +
                                                     " WHERE id = ?2 AND vault_id = ?1"));
    st.BindText(1, vault_id);
    st.BindText(2, policy_id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError("policy not found"));
    }
    return ReadPolicy(st);
  }

  StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare(std::string(kPolicyColumnsSql) +
                                 " WHERE vault_id = ?1 ORDER BY created_at, rowid"));
    st.BindText(1, vault_id);
    return ReadAll<Policy>(st, ReadPolicy);
  }

  StatusOr<std::vector<Policy>> ListPoliciesForPrincipal(PrincipalKind kind,
                                                         std::string_view principal_id) override {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db->Prepare(std::string(kPolicyColumnsSql) +
                                 " WHERE principal_kind = ?1 AND principal_id = ?2"
                                 " ORDER BY created_at, rowid"));
    st.BindText(1, PrincipalKindName(kind));
    st.BindText(2, principal_id);
    return ReadAll<Policy>(st, ReadPolicy);
  }

  Status DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                      const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Policies(std::string(vault_id));
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("DELETE FROM policies WHERE id = ?2 AND vault_id = ?1"));
      st.BindText(1, vault_id);
      st.BindText(2, policy_id);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return NotFoundError("policy not found");
      }
      return OkStatus();
    });
  }

  // --- audit -------------------------------------------------------------------------------

  StatusOr<AuditEvent> AppendAudit(const AuditEvent& event) override {
    // An event standing alone records a request that changed nothing (a read, a refusal, a
    // failure): written before the answer, fsynced within the writer's sync interval.
    AuditEvent stored;
    RETURN_IF_ERROR(Write(
        &event, [](SqliteConnection&, AuditEvent*) { return OkStatus(); }, &stored,
        Durability::kWritten));
    return stored;
  }

  void AppendAuditAsync(std::shared_ptr<const AuditEvent> event,
                        std::function<void(Status)> done) override {
    writer_->RunAsync(
        [this, event = std::move(event)](SqliteConnection& db) {
          return WriteInOp(db, event.get(), [](SqliteConnection&, AuditEvent*) {
            return OkStatus();
          });
        },
        Durability::kWritten, std::move(done));
  }

  StatusOr<std::vector<AuditEvent>> ListAudit(const AuditQuery& query) override {
    auto db = readers_->Acquire();
    return QueryAuditEvents(*db, query);
  }

  Status ScanAudit(const std::function<bool(const AuditEvent&)>& visit) override {
    auto db = readers_->Acquire();
    return ScanAuditEvents(*db, visit);
  }

  // --- rate limits -------------------------------------------------------------------------

  StatusOr<RateLimitDecision> HitRateLimit(std::string_view key, UnixMicros window, int64_t limit,
                                           UnixMicros now) override {
    if (window <= 0 || limit < 1) {
      return Err(InvalidArgumentError("store: a rate limit needs a positive window and limit"));
    }
    RateLimitDecision decision;
    RETURN_IF_ERROR(Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
      const UnixMicros horizon = now - window;  // hits at or before it have left the window
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("DELETE FROM rate_limit_hits WHERE key = ?1 AND at <= ?2"));
        st.BindText(1, key);
        st.BindInt(2, horizon);
        RETURN_IF_ERROR(st.Run());
      }
      int64_t count = 0;
      UnixMicros oldest = 0;
      {
        ASSIGN_OR_RETURN(SqliteStatement st,
                         db.Prepare("SELECT COUNT(*), MIN(at) FROM rate_limit_hits"
                                    " WHERE key = ?1 AND at > ?2"));
        st.BindText(1, key);
        st.BindInt(2, horizon);
        ASSIGN_OR_RETURN(const bool row, st.Step());
        if (row) {
          count = st.ColumnInt(0);
          oldest = st.ColumnInt(1);
        }
      }
      if (count >= limit) {
        decision = RateLimitDecision{false, oldest + window - now};
        return OkStatus();
      }
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO rate_limit_hits (key, at) VALUES (?1, ?2)"));
      st.BindText(1, key);
      st.BindInt(2, now);
      RETURN_IF_ERROR(st.Run());
      decision = RateLimitDecision{true, 0};
      return OkStatus();
    }));
    return decision;
  }

  // --- vaults ------------------------------------------------------------------------------

  Status InsertVault(const Vault& vault, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Vault(vault.id);
    return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(
          const bool taken,
          Exists(db, "SELECT 1 FROM vaults WHERE lower(name) = lower(?1)", vault.name));
      if (taken) {
        return AlreadyExistsError(VaultNameTaken(vault.name));
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
    return GetById(kVaultColumnsSql, vault_id, "vault not found", ReadVault);
  }

  StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) override {
    return ListByOwner(kVaultColumnsSql, owner_id, ReadVault);
  }

  Status DeleteVault(std::string_view vault_id, const AuditEvent* audit) override {
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

  // --- secrets -----------------------------------------------------------------------------

  StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& in, const SealFunction& seal,
                                           const AuditEvent* audit) override {
    SecretVersion stored;
    RETURN_IF_ERROR(Write(audit, [&](SqliteConnection& db, AuditEvent* event) -> Status {
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
      if (event != nullptr) {
        event->vault_id = header.vault_id;
        event->path = header.path;
        event->version = header.version;
      }
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

  Status DeleteSecret(std::string_view vault_id, std::string_view path,
                      const AuditEvent* audit) override {
    return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
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
                                               int64_t version, UnixMicros at,
                                               const AuditEvent* audit) override {
    SecretVersion result;
    RETURN_IF_ERROR(Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
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

  StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version,
                                        const AuditEvent* audit) override {
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

  Status ImportSecretVersion(const SecretVersion& v) override {
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
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO secret_versions (secret_id, version, type,"
                                  " metadata_json, rotation_policy_json, expires_at,"
                                  " max_access_count, access_count, disabled_at, created_at,"
                                  " created_by, ciphertext)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
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
      st.BindBlob(12, v.ciphertext);
      return Reword(st.Run(), StatusCode::kAlreadyExists, "the version already exists");
    });
  }

  // Only this process writes what the feed is about (`coffer keys` beside a server changes the
  // keyring and ciphertexts; a second server is refused, see sqlite_store_lock.h).
  ChangeFeed& Changes() override { return changes_; }

 private:
  // Write, for a mutation of something the layers above may keep in memory: `change` is
  // published once the write is over, whatever its outcome.
  template <typename Body>
  Status WriteChange(const StoreChange& change, const AuditEvent* audit, Body body) {
    Status s = Write(audit, std::move(body));
    changes_.Publish(change);
    return s;
  }

  // The row of `columns_sql` (a SELECT … FROM table) whose id is `id`; kNotFound `not_found`.
  template <typename T>
  StatusOr<T> GetById(std::string_view columns_sql, std::string_view id,
                      std::string_view not_found, T (*read)(const SqliteStatement&)) {
    auto db = readers_->Acquire();
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(std::string(columns_sql) + " WHERE id = ?1"));
    st.BindText(1, id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return Err(NotFoundError(std::string(not_found)));
    }
    return read(st);
  }

  // Every row of `columns_sql`, or those of `owner_id`, in creation order (rowid breaks ties in
  // insertion order).
  template <typename T>
  StatusOr<std::vector<T>> ListByOwner(std::string_view columns_sql,
                                       std::optional<std::string_view> owner_id,
                                       T (*read)(const SqliteStatement&)) {
    auto db = readers_->Acquire();
    std::string sql(columns_sql);
    sql += owner_id.has_value() ? " WHERE owner_id = ?1 ORDER BY created_at, rowid"
                                : " ORDER BY created_at, rowid";
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(sql));
    if (owner_id.has_value()) {
      st.BindText(1, *owner_id);
    }
    return ReadAll<T>(st, read);
  }

  // Runs `body(db, event)` as one write operation and then, when `audit` is given, appends
  // `event` (a copy of it that `body` may complete with what only the row knows) to the audit
  // chain in the same operation: both are kept or neither is. The appended event, with its
  // seq and hashes, goes to `*appended` when that is not null.
  template <typename Body>
  Status Write(const AuditEvent* audit, Body body, AuditEvent* appended = nullptr,
               Durability durability = Durability::kSynced) {
    return writer_->Run(
        [&](SqliteConnection& db) -> Status { return WriteInOp(db, audit, body, appended); },
        durability);
  }

  // Write's operation, on the writer thread.
  template <typename Body>
  Status WriteInOp(SqliteConnection& db, const AuditEvent* audit, Body&& body,
                   AuditEvent* appended = nullptr) {
    ChainHeadGuard guard(*audit_chain_);
    std::optional<AuditEvent> event;
    if (audit != nullptr) {
      event.emplace(*audit);
    }
    RETURN_IF_ERROR(body(db, event.has_value() ? &*event : nullptr));
    if (event.has_value()) {
      RETURN_IF_ERROR(audit_chain_->Append(db, *event));
      if (appended != nullptr) {
        *appended = std::move(*event);
      }
    }
    guard.Keep();
    return OkStatus();
  }

  // Declared first so it is destroyed last; used only on the writer thread (write operations
  // and the writer's rollback listener).
  const std::unique_ptr<SqliteAuditChain> audit_chain_;
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<SqliteReaderPool> readers_;
  ChangeFeed changes_{ChangeFeed::Writers::kThisProcess};
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
  RETURN_IF_ERROR(PrepareDatabaseFile(options.path));
  ASSIGN_OR_RETURN(auto db, SqliteConnection::Open(options.path, SqliteConnection::Mode::kReadWrite,
                                                   kBusyTimeoutMs));
  RETURN_IF_ERROR(ConfigureWriter(*db));
  RETURN_IF_ERROR(ApplySqliteMigrations(*db, SqliteMigrations(), SystemClock().Now(),
                                        options.on_migration_notice));
  // Readers open after the writer has put the file in WAL mode and created its schema.
  ASSIGN_OR_RETURN(auto readers, SqliteReaderPool::Open(options.path, options.reader_connections,
                                                        kBusyTimeoutMs));
  // When a batch's transaction is rolled back, the events it appended are gone: the cached
  // chain head is dropped and read again by the next append.
  auto audit_chain = std::make_unique<SqliteAuditChain>();
  ASSIGN_OR_RETURN(auto writer,
                   GroupCommitWriter::Start(
                       std::move(db), options.max_batch,
                       [chain = audit_chain.get()] { chain->Forget(); },
                       options.audit_sync_interval));
  return std::make_unique<SqliteStoreImpl>(std::move(audit_chain), std::move(writer),
                                           std::move(readers));
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace coffer
