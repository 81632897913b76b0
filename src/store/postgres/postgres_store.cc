// PostgresStore: the Store methods as SQL on pooled connections. Reads are single statements in
// autocommit; writes run in a READ COMMITTED transaction that ends with the audit event (when
// there is one), appended under the audit_head row lock, so every server extends one chain.
// What must be atomic across servers is decided by the database: UPDATE … RETURNING for
// version numbers and counted reads, row locks for compare-and-swap, one SQL function under an
// advisory lock for the rate limiter.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <type_traits>
#include <utility>

#include "common/ids.h"
#include "store/postgres/pg_audit_chain.h"
#include "store/postgres/pg_change_listener.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_migrations.h"
#include "store/postgres/pg_pool.h"
#include "store/postgres/pg_transaction.h"

namespace coffer {

namespace {

using RuleClockOption = PostgresStoreOptions::RuleClock;

// Rows of the audit chain read per round trip by ScanAudit.
constexpr int kScanPage = 1000;

// The columns ReadVersion() expects, from `secrets AS s` joined with `secret_versions AS v`;
// queries that return the value add v.ciphertext as column kCiphertextColumn.
#define COFFER_PG_VERSION_COLUMNS                                                          \
  "s.id, s.vault_id, s.path, v.version, v.type, v.metadata_json, v.rotation_policy_json, " \
  "v.expires_at, v.max_access_count, v.access_count, v.disabled_at, v.created_at, v.created_by"
constexpr int kVersionColumn = 3;
constexpr int kCiphertextColumn = 13;

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
constexpr std::string_view kListVersionsSql =
    "SELECT " COFFER_PG_VERSION_COLUMNS
    " FROM secrets AS s JOIN secret_versions AS v ON v.secret_id = s.id"
    " WHERE s.vault_id = $1 AND s.path = $2 ORDER BY v.version DESC";
constexpr std::string_view kDisableSql =
    "UPDATE secret_versions AS v SET disabled_at = COALESCE(v.disabled_at, $4)"
    " FROM secrets AS s WHERE s.id = v.secret_id AND s.vault_id = $1 AND s.path = $2"
    " AND v.version = $3 RETURNING " COFFER_PG_VERSION_COLUMNS;

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

#undef COFFER_PG_VERSION_COLUMNS

constexpr std::string_view kVaultColumnsSql =
    "SELECT id, name, description, owner_id, created_at FROM vaults";
constexpr std::string_view kUserColumnsSql = "SELECT id, name, is_admin, created_at FROM users";
constexpr std::string_view kCredentialColumnsSql =
    "SELECT public_id, kind, principal_kind, principal_id, name, secret_hmac, created_at,"
    " revoked_at FROM credentials";
constexpr std::string_view kAgentColumnsSql =
    "SELECT id, name, description, owner_id, created_at, revoked_at FROM agents";
constexpr std::string_view kPolicyColumnsSql =
    "SELECT id, vault_id, principal_kind, principal_id, path_glob, permissions, expires_at,"
    " created_at, created_by FROM policies";

#define COFFER_PG_AUDIT_COLUMNS                                                             \
  "seq, at, request_id, actor_kind, actor_id, action, vault_id, path, version, client_ip, " \
  "outcome, status, prev_hash, hash, http_status, request_count"
constexpr std::string_view kAuditSelectSql = "SELECT " COFFER_PG_AUDIT_COLUMNS " FROM audit_events";
#undef COFFER_PG_AUDIT_COLUMNS

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

// `s` with `message` when it has `code`, else unchanged.
Status Reword(Status s, StatusCode code, std::string message) {
  if (s.code() != code) {
    return s;
  }
  return Status(code, std::move(message));
}

std::string VersionNotFound(int64_t version) {
  return "version " + std::to_string(version) + " not found";
}

StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view name, std::string_view row_kind) {
  if (name == PrincipalKindName(PrincipalKind::kUser)) {
    return PrincipalKind::kUser;
  }
  if (name == PrincipalKindName(PrincipalKind::kAgent)) {
    return PrincipalKind::kAgent;
  }
  return Err(DataLossError("store: a " + std::string(row_kind) + " has an unknown principal kind"));
}

StatusOr<SecretVersion> ReadVersion(const PgResult& r, int row, bool with_ciphertext) {
  SecretVersion v;
  v.secret_id = r.Text(row, 0);
  v.vault_id = r.Text(row, 1);
  v.path = r.Text(row, 2);
  v.version = r.Int(row, 3);
  const std::optional<SecretType> type = ParseSecretType(r.Text(row, 4));
  if (!type.has_value()) {
    return Err(DataLossError("store: a secret version has an unknown type"));
  }
  v.type = *type;
  v.metadata_json = r.Text(row, 5);
  v.rotation_policy_json = r.Text(row, 6);
  v.expires_at = r.OptionalInt(row, 7);
  v.max_access_count = r.Int(row, 8);
  v.access_count = r.Int(row, 9);
  v.disabled_at = r.OptionalInt(row, 10);
  v.created_at = r.Int(row, 11);
  v.created_by = r.Text(row, 12);
  if (with_ciphertext) {
    v.ciphertext = r.Bytes(row, kCiphertextColumn);
  }
  return v;
}

Vault ReadVault(const PgResult& r, int row) {
  return Vault{r.Text(row, 0), r.Text(row, 1), r.Text(row, 2), r.Text(row, 3), r.Int(row, 4)};
}

User ReadUser(const PgResult& r, int row) {
  return User{r.Text(row, 0), r.Text(row, 1), r.Bool(row, 2), r.Int(row, 3)};
}

StatusOr<Credential> ReadCredential(const PgResult& r, int row) {
  Credential c;
  c.public_id = r.Text(row, 0);
  c.kind = r.Text(row, 1);
  ASSIGN_OR_RETURN(c.principal_kind, ParsePrincipalKind(r.Text(row, 2), "credential"));
  c.principal_id = r.Text(row, 3);
  c.name = r.Text(row, 4);
  c.secret_hmac = r.Bytes(row, 5);
  c.created_at = r.Int(row, 6);
  c.revoked_at = r.OptionalInt(row, 7);
  return c;
}

Agent ReadAgent(const PgResult& r, int row) {
  Agent a;
  a.id = r.Text(row, 0);
  a.name = r.Text(row, 1);
  a.description = r.Text(row, 2);
  a.owner_id = r.Text(row, 3);
  a.created_at = r.Int(row, 4);
  a.revoked_at = r.OptionalInt(row, 5);
  return a;
}

StatusOr<Policy> ReadPolicy(const PgResult& r, int row) {
  Policy p;
  p.id = r.Text(row, 0);
  p.vault_id = r.Text(row, 1);
  ASSIGN_OR_RETURN(p.principal_kind, ParsePrincipalKind(r.Text(row, 2), "policy"));
  p.principal_id = r.Text(row, 3);
  p.path_glob = r.Text(row, 4);
  p.permissions = static_cast<uint8_t>(r.Int(row, 5));
  p.expires_at = r.OptionalInt(row, 6);
  p.created_at = r.Int(row, 7);
  p.created_by = r.Text(row, 8);
  return p;
}

StatusOr<Sha256Digest> ReadDigest(const PgResult& r, int row, int column) {
  const std::vector<uint8_t> bytes = r.Bytes(row, column);
  Sha256Digest digest{};
  if (bytes.size() != digest.size()) {
    return Err(DataLossError("store: an audit event has a malformed hash"));
  }
  std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

StatusOr<AuditEvent> ReadEvent(const PgResult& r, int row) {
  AuditEvent e;
  e.seq = r.Int(row, 0);
  e.at = r.Int(row, 1);
  e.request_id = r.Text(row, 2);
  e.actor_kind = r.Text(row, 3);
  e.actor_id = r.Text(row, 4);
  e.action = r.Text(row, 5);
  e.vault_id = r.Text(row, 6);
  e.path = r.Text(row, 7);
  e.version = r.Int(row, 8);
  e.client_ip = r.Text(row, 9);
  e.outcome = r.Text(row, 10);
  e.status = r.Text(row, 11);
  ASSIGN_OR_RETURN(e.prev_hash, ReadDigest(r, row, 12));
  ASSIGN_OR_RETURN(e.hash, ReadDigest(r, row, 13));
  e.http_status = static_cast<int32_t>(r.Int(row, 14));
  e.count = r.Int(row, 15);
  return e;
}

// Every row of `r`, read by `read(r, row)` (returning T or StatusOr<T>).
template <typename T, typename Read>
StatusOr<std::vector<T>> ReadAll(const PgResult& r, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    if constexpr (std::is_same_v<std::invoke_result_t<Read, const PgResult&, int>, T>) {
      out.push_back(read(r, row));
    } else {
      ASSIGN_OR_RETURN(T value, read(r, row));
      out.push_back(std::move(value));
    }
  }
  return out;
}

Status InsertCredentialRow(PgConnection& conn, const Credential& c) {
  return Reword(conn.Run("INSERT INTO credentials (public_id, kind, principal_kind, principal_id,"
                         " name, secret_hmac, created_at, revoked_at)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                         PgParams()
                             .Text(c.public_id)
                             .Text(c.kind)
                             .Text(PrincipalKindName(c.principal_kind))
                             .Text(c.principal_id)
                             .Text(c.name)
                             .Bytes(c.secret_hmac)
                             .Int(c.created_at)
                             .OptionalInt(c.revoked_at)),
                StatusCode::kAlreadyExists, "the credential already exists");
}

// kInvalidArgument unless every credential names agent `agent_id` as its principal.
Status CheckAgentCredentials(std::string_view agent_id, const std::vector<Credential>& creds) {
  for (const Credential& c : creds) {
    if (c.principal_kind != PrincipalKind::kAgent || c.principal_id != agent_id) {
      return InvalidArgumentError("store: a credential does not belong to the agent");
    }
  }
  return OkStatus();
}

Status RevokeAgentCredentialRows(PgConnection& conn, std::string_view agent_id, UnixMicros at) {
  return conn.Run(
      "UPDATE credentials SET revoked_at = $2"
      " WHERE principal_kind = 'agent' AND principal_id = $1 AND revoked_at IS NULL",
      PgParams().Text(agent_id).Int(at));
}

// The URL without Coffer's own query parameters, and their values.
struct ParsedUrl {
  std::string conninfo;
  std::optional<int> pool_size;
};

StatusOr<ParsedUrl> ParseUrl(std::string_view url) {
  if (!IsPostgresUrl(url)) {
    return Err(InvalidArgumentError("store: a PostgreSQL URL starts with postgres://"));
  }
  ParsedUrl parsed;
  const size_t q = url.find('?');
  parsed.conninfo = std::string(url.substr(0, q));
  if (q == std::string_view::npos) {
    return parsed;
  }
  std::string kept;
  std::string_view query = url.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.starts_with("pool_size=")) {
      const std::string_view value = param.substr(10);
      int n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1 || n > 1000) {
        return Err(InvalidArgumentError("store: pool_size must be a number from 1 to 1000"));
      }
      parsed.pool_size = n;
      continue;
    }
    if (!param.empty()) {
      kept += kept.empty() ? "?" : "&";
      kept += param;
    }
  }
  parsed.conninfo += kept;
  return parsed;
}

class PostgresStoreImpl final : public PostgresStore {
 public:
  PostgresStoreImpl(std::unique_ptr<PgPool> pool, RuleClockOption rate_limit_clock)
      : pool_(std::move(pool)), rate_limit_clock_(rate_limit_clock), batcher_(*pool_) {}

  // Starts following what other processes change (PostgresStoreOptions::follow_changes).
  void FollowChanges(std::string conninfo, PgChangeListenerOptions options) {
    listener_ =
        std::make_unique<PgChangeListener>(std::move(conninfo), changes_, std::move(options));
  }

  ChangeFeed& Changes() override { return changes_; }

  StatusOr<UnixMicros> DatabaseNow() override {
    return Read([&](PgConnection& conn) -> StatusOr<UnixMicros> {
      ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT coffer_now_micros()"));
      if (r.rows() != 1) {
        return Err(InternalError("store: the database did not say what time it is"));
      }
      return r.Int(0, 0);
    });
  }

  // --- keyring -----------------------------------------------------------------------------

  StatusOr<std::vector<WrappedKey>> LoadKeys() override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<WrappedKey>> {
      ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id, purpose, wrapped, created_at, active"
                                             " FROM keys ORDER BY id"));
      return ReadAll<WrappedKey>(r, [](const PgResult& rr, int row) {
        WrappedKey k;
        k.id = static_cast<uint32_t>(rr.Int(row, 0));
        k.purpose = rr.Text(row, 1);
        k.wrapped = rr.Bytes(row, 2);
        k.created_at = rr.Int(row, 3);
        k.active = rr.Bool(row, 4);
        return k;
      });
    });
  }

  Status InsertKey(const WrappedKey& key) override {
    return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
      if (key.active) {
        RETURN_IF_ERROR(conn.Run("UPDATE keys SET active = false WHERE purpose = $1 AND active",
                                 PgParams().Text(key.purpose)));
      }
      Status s = conn.Run(
          "INSERT INTO keys (id, purpose, wrapped, created_at, active)"
          " VALUES ($1, $2, $3, $4, $5)",
          PgParams()
              .Int(key.id)
              .Text(key.purpose)
              .Bytes(key.wrapped)
              .Int(key.created_at)
              .Bool(key.active));
      if (s.code() == StatusCode::kAlreadyExists && conn.last_error().constraint == "keys_pkey") {
        return AlreadyExistsError("key " + std::to_string(key.id) + " already exists");
      }
      return s;
    });
  }

  // --- data key rotation -------------------------------------------------------------------

  StatusOr<std::vector<StoredCiphertext>> ListCiphertextsNotUnderKey(
      uint32_t key_id, std::string_view after_secret_id, int64_t after_version,
      size_t limit) override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<StoredCiphertext>> {
      ASSIGN_OR_RETURN(
          PgResult r,
          conn.Exec("SELECT s.vault_id, v.secret_id, s.path, v.version, v.ciphertext"
                    " FROM secret_versions AS v JOIN secrets AS s ON s.id = v.secret_id"
                    " WHERE (v.secret_id, v.version) > ($1, $2)"
                    " AND substring(v.ciphertext from 2 for 4) IS DISTINCT FROM $3"
                    " ORDER BY v.secret_id, v.version LIMIT $4",
                    PgParams()
                        .Text(after_secret_id)
                        .Int(after_version)
                        .Bytes(KeyIdBytes(key_id))
                        .Int(static_cast<int64_t>(std::max<size_t>(limit, 1)))));
      return ReadAll<StoredCiphertext>(r, [](const PgResult& rr, int row) {
        StoredCiphertext c;
        c.vault_id = rr.Text(row, 0);
        c.secret_id = rr.Text(row, 1);
        c.path = rr.Text(row, 2);
        c.version = rr.Int(row, 3);
        c.ciphertext = rr.Bytes(row, 4);
        return c;
      });
    });
  }

  StatusOr<int64_t> SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) override {
    int64_t swapped = 0;
    RETURN_IF_ERROR(Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
      swapped = 0;
      for (const CiphertextSwap& swap : swaps) {
        ASSIGN_OR_RETURN(PgResult r,
                         conn.Exec("UPDATE secret_versions SET ciphertext = $4"
                                   " WHERE secret_id = $1 AND version = $2 AND ciphertext = $3",
                                   PgParams()
                                       .Text(swap.secret_id)
                                       .Int(swap.version)
                                       .Bytes(swap.expected)
                                       .Bytes(swap.replacement)));
        swapped += r.affected();
      }
      return OkStatus();
    }));
    return swapped;
  }

  StatusOr<std::map<int64_t, int64_t>> CountCiphertextsByKey() override {
    return Read([&](PgConnection& conn) -> StatusOr<std::map<int64_t, int64_t>> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec("SELECT substring(ciphertext from 2 for 4) AS k, count(*)"
                                 " FROM secret_versions GROUP BY k"));
      std::map<int64_t, int64_t> counts;
      for (int row = 0; row < r.rows(); ++row) {
        counts[KeyIdOf(r.Bytes(row, 0))] += r.Int(row, 1);
      }
      return counts;
    });
  }

  Status DeleteDataKey(uint32_t id) override {
    return Write(nullptr, [&](PgConnection& conn, AuditEvent*) -> Status {
      // The row lock orders this against a concurrent rotation making the key active again.
      ASSIGN_OR_RETURN(PgResult key, conn.Exec("SELECT active FROM keys WHERE id = $1"
                                               " AND purpose = 'data' FOR UPDATE",
                                               PgParams().Int(id)));
      if (key.rows() == 0) {
        return NotFoundError("there is no data key " + std::to_string(id));
      }
      if (key.Bool(0, 0)) {
        return FailedPreconditionError("data key " + std::to_string(id) +
                                       " is the active key; rotate first");
      }
      ASSIGN_OR_RETURN(PgResult used,
                       conn.Exec("SELECT count(*) FROM secret_versions"
                                 " WHERE substring(ciphertext from 2 for 4) = $1",
                                 PgParams().Bytes(KeyIdBytes(id))));
      const int64_t in_use = used.rows() == 1 ? used.Int(0, 0) : 0;
      if (in_use > 0) {
        return FailedPreconditionError(std::to_string(in_use) +
                                       " secret versions are still encrypted under data key " +
                                       std::to_string(id) + "; run coffer keys reencrypt");
      }
      return conn.Run("DELETE FROM keys WHERE id = $1", PgParams().Int(id));
    });
  }

  // --- users and credentials ---------------------------------------------------------------

  Status InsertUser(const User& user, const AuditEvent* audit) override {
    return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      Status s = conn.Run(
          "INSERT INTO users (id, name, is_admin, created_at)"
          " VALUES ($1, $2, $3, $4)",
          PgParams().Text(user.id).Text(user.name).Bool(user.is_admin).Int(user.created_at));
      if (s.code() == StatusCode::kAlreadyExists) {
        return conn.last_error().constraint == "users_name_key"
                   ? AlreadyExistsError("a user named '" + user.name + "' already exists")
                   : AlreadyExistsError("a user with this id already exists");
      }
      return s;
    });
  }

  StatusOr<std::vector<User>> ListUsers() override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<User>> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(std::string(kUserColumnsSql) + " ORDER BY created_at, ord"));
      return ReadAll<User>(r, ReadUser);
    });
  }

  StatusOr<User> GetUser(std::string_view id) override {
    return Read([&](PgConnection& conn) -> StatusOr<User> {
      ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kUserColumnsSql) + " WHERE id = $1",
                                             PgParams().Text(id)));
      if (r.rows() == 0) {
        return Err(NotFoundError("user not found"));
      }
      return ReadUser(r, 0);
    });
  }

  Status InsertCredential(const Credential& c, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Credential(c.public_id);
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      return InsertCredentialRow(conn, c);
    });
  }

  StatusOr<Credential> GetCredential(std::string_view public_id) override {
    return Read([&](PgConnection& conn) -> StatusOr<Credential> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(std::string(kCredentialColumnsSql) + " WHERE public_id = $1",
                                 PgParams().Text(public_id)));
      if (r.rows() == 0) {
        return Err(NotFoundError("credential not found"));
      }
      return ReadCredential(r, 0);
    });
  }

  StatusOr<std::vector<Credential>> ListCredentials(PrincipalKind kind,
                                                    std::string_view principal_id) override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<Credential>> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(std::string(kCredentialColumnsSql) +
                                     " WHERE principal_kind = $1 AND principal_id = $2"
                                     " ORDER BY created_at, ord",
                                 PgParams().Text(PrincipalKindName(kind)).Text(principal_id)));
      return ReadAll<Credential>(r, ReadCredential);
    });
  }

  Status RevokeCredential(std::string_view public_id, UnixMicros at,
                          const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Credential(std::string(public_id));
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      // Every revocation of an admin's key locks the admin rows first, so revocations on any
      // server run one after another, and (in READ COMMITTED) the check below sees every
      // revocation committed before the lock was granted.
      ASSIGN_OR_RETURN(PgResult target,
                       conn.Exec("SELECT 1 FROM credentials c JOIN users u ON u.id = c.principal_id"
                                 " WHERE c.public_id = $1 AND c.principal_kind = 'user'"
                                 " AND c.kind = 'key' AND u.is_admin",
                                 PgParams().Text(public_id)));
      if (target.rows() > 0) {
        RETURN_IF_ERROR(conn.Run("SELECT 1 FROM users WHERE is_admin ORDER BY id FOR UPDATE"));
        ASSIGN_OR_RETURN(
            PgResult last,
            conn.Exec("SELECT 1 FROM credentials c WHERE c.public_id = $1 AND c.revoked_at IS NULL"
                      " AND NOT EXISTS (SELECT 1 FROM credentials o JOIN users a"
                      " ON a.id = o.principal_id WHERE o.public_id <> c.public_id"
                      " AND o.principal_kind = 'user' AND o.kind = 'key'"
                      " AND o.revoked_at IS NULL AND a.is_admin)",
                      PgParams().Text(public_id)));
        if (last.rows() > 0) {
          return FailedPreconditionError(std::string(kLastAdminKey));
        }
      }
      // COALESCE keeps the first revocation's time.
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec("UPDATE credentials SET revoked_at = COALESCE(revoked_at, $2)"
                                 " WHERE public_id = $1",
                                 PgParams().Text(public_id).Int(at)));
      if (r.affected() == 0) {
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
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      Status s = conn.Run(
          "INSERT INTO agents (id, name, description, owner_id, created_at,"
          " revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
          PgParams()
              .Text(agent.id)
              .Text(agent.name)
              .Text(agent.description)
              .Text(agent.owner_id)
              .Int(agent.created_at)
              .OptionalInt(agent.revoked_at));
      if (s.code() == StatusCode::kAlreadyExists) {
        return conn.last_error().constraint == "agents_owner_name_key"
                   ? AlreadyExistsError("an agent named '" + agent.name + "' already exists")
                   : AlreadyExistsError("an agent with this id already exists");
      }
      RETURN_IF_ERROR(s);
      for (const Credential& c : credentials) {
        RETURN_IF_ERROR(InsertCredentialRow(conn, c));
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
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec("UPDATE agents SET revoked_at = COALESCE(revoked_at, $2)"
                                 " WHERE id = $1",
                                 PgParams().Text(agent_id).Int(at)));
      if (r.affected() == 0) {
        return NotFoundError("agent not found");
      }
      return RevokeAgentCredentialRows(conn, agent_id, at);
    });
  }

  Status ReplaceAgentCredentials(std::string_view agent_id,
                                 const std::vector<std::string>& expected_active,
                                 const std::vector<Credential>& fresh, UnixMicros at,
                                 const AuditEvent* audit) override {
    RETURN_IF_ERROR(CheckAgentCredentials(agent_id, fresh));
    const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      // The agent's row lock serializes every rotation and revocation of this agent, on any
      // server; the credential rows are locked too, so a revocation of one of them by id
      // either finishes first (and the check below sees it) or waits for this swap.
      ASSIGN_OR_RETURN(PgResult agent,
                       conn.Exec("SELECT revoked_at IS NOT NULL FROM agents WHERE id = $1"
                                 " FOR UPDATE",
                                 PgParams().Text(agent_id)));
      if (agent.rows() == 0) {
        return NotFoundError("agent not found");
      }
      if (agent.Bool(0, 0)) {
        return FailedPreconditionError("the agent is revoked");
      }
      for (const std::string& public_id : expected_active) {
        ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT 1 FROM credentials WHERE public_id = $1"
                                               " AND principal_kind = 'agent' AND principal_id = $2"
                                               " AND revoked_at IS NULL FOR UPDATE",
                                               PgParams().Text(public_id).Text(agent_id)));
        if (r.rows() == 0) {
          return AbortedError("the agent's credentials changed since they were read");
        }
      }
      RETURN_IF_ERROR(RevokeAgentCredentialRows(conn, agent_id, at));
      for (const Credential& c : fresh) {
        RETURN_IF_ERROR(InsertCredentialRow(conn, c));
      }
      return OkStatus();
    });
  }

  // --- policies ----------------------------------------------------------------------------

  Status InsertPolicy(const Policy& p, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Policies(p.vault_id);
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      Status s = conn.Run(
          "INSERT INTO policies (id, vault_id, principal_kind, principal_id,"
          " path_glob, permissions, expires_at, created_at, created_by)"
          " VALUES ($1, $2, $3, $4, $5, $6::integer, $7, $8, $9)",
          PgParams()
              .Text(p.id)
              .Text(p.vault_id)
              .Text(PrincipalKindName(p.principal_kind))
              .Text(p.principal_id)
              .Text(p.path_glob)
              .Int(p.permissions)
              .OptionalInt(p.expires_at)
              .Int(p.created_at)
              .Text(p.created_by));
      s = Reword(std::move(s), StatusCode::kNotFound, "vault not found");
      return Reword(std::move(s), StatusCode::kAlreadyExists,
                    "a policy with this id already exists");
    });
  }

  StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id) override {
    return Read([&](PgConnection& conn) -> StatusOr<Policy> {
      ASSIGN_OR_RETURN(
          PgResult r, conn.Exec(std::string(kPolicyColumnsSql) + " WHERE id = $2 AND vault_id = $1",
                                PgParams().Text(vault_id).Text(policy_id)));
      if (r.rows() == 0) {
        return Err(NotFoundError("policy not found"));
      }
      return ReadPolicy(r, 0);
    });
  }

  StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id) override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<Policy>> {
      ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kPolicyColumnsSql) +
                                                 " WHERE vault_id = $1 ORDER BY created_at, ord",
                                             PgParams().Text(vault_id)));
      return ReadAll<Policy>(r, ReadPolicy);
    });
  }

  StatusOr<std::vector<Policy>> ListPoliciesForPrincipal(PrincipalKind kind,
                                                         std::string_view principal_id) override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<Policy>> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(std::string(kPolicyColumnsSql) +
                                     " WHERE principal_kind = $1 AND principal_id = $2"
                                     " ORDER BY created_at, ord",
                                 PgParams().Text(PrincipalKindName(kind)).Text(principal_id)));
      return ReadAll<Policy>(r, ReadPolicy);
    });
  }

  Status DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                      const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Policies(std::string(vault_id));
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(PgResult r, conn.Exec("DELETE FROM policies WHERE id = $2 AND vault_id = $1",
                                             PgParams().Text(vault_id).Text(policy_id)));
      if (r.affected() == 0) {
        return NotFoundError("policy not found");
      }
      return OkStatus();
    });
  }

  // --- audit -------------------------------------------------------------------------------

  StatusOr<AuditEvent> AppendAudit(const AuditEvent& event) override {
    return batcher_.Append(event);
  }

  StatusOr<std::vector<AuditEvent>> ListAudit(const AuditQuery& query) override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<AuditEvent>> {
      std::string sql(kAuditSelectSql);
      PgParams params;
      const auto next = [&] { return "$" + std::to_string(params.size()); };
      params.Int(query.after_seq);
      sql += " WHERE seq > " + next();
      if (!query.vault_id.empty()) {
        params.Text(query.vault_id);
        sql += " AND vault_id = " + next();
      }
      if (!query.actor_id.empty()) {
        params.Text(query.actor_id);
        sql += " AND actor_id = " + next();
      }
      if (!query.action.empty()) {
        params.Text(query.action);
        sql += " AND action = " + next();
      }
      if (query.since.has_value()) {
        params.Int(*query.since);
        sql += " AND at >= " + next();
      }
      if (query.until.has_value()) {
        params.Int(*query.until);
        sql += " AND at < " + next();
      }
      params.OptionalInt(query.limit == 0 ? std::nullopt : std::optional<int64_t>(query.limit));
      sql += " ORDER BY seq LIMIT " + next();
      ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
      return ReadAll<AuditEvent>(r, ReadEvent);
    });
  }

  Status ScanAudit(const std::function<bool(const AuditEvent&)>& visit) override {
    ASSIGN_OR_RETURN(PgPool::Lease conn, pool_->Acquire());
    // One REPEATABLE READ snapshot for every page.
    RETURN_IF_ERROR(conn->ExecScript("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
    Status status = OkStatus();
    int64_t after = 0;
    bool more = true;
    while (status.ok() && more) {
      auto page = conn->Exec(std::string(kAuditSelectSql) + " WHERE seq > $1 ORDER BY seq LIMIT $2",
                             PgParams().Int(after).Int(kScanPage));
      if (!page.has_value()) {
        status = page.error();
        break;
      }
      more = page->rows() == kScanPage;
      for (int row = 0; row < page->rows(); ++row) {
        auto event = ReadEvent(*page, row);
        if (!event.has_value()) {
          status = event.error();
          break;
        }
        after = event->seq;
        if (!visit(*event)) {
          more = false;
          break;
        }
      }
    }
    const Status ended = conn->ExecScript(status.ok() ? "COMMIT" : "ROLLBACK");
    return status.ok() ? ended : status;
  }

  // --- rate limits -------------------------------------------------------------------------

  StatusOr<RateLimitDecision> HitRateLimit(std::string_view key, UnixMicros window, int64_t limit,
                                           UnixMicros now) override {
    if (window <= 0 || limit < 1) {
      return Err(InvalidArgumentError("store: a rate limit needs a positive window and limit"));
    }
    const std::optional<int64_t> caller_now =
        rate_limit_clock_ == RuleClockOption::kCaller ? std::optional<int64_t>(now) : std::nullopt;
    return Read([&](PgConnection& conn) -> StatusOr<RateLimitDecision> {
      // One statement, so one transaction: the function locks the key, reads the database's
      // clock, trims, counts and records.
      ASSIGN_OR_RETURN(
          PgResult r,
          conn.Exec("SELECT allowed, retry_after FROM coffer_rate_limit_hit($1, $2,"
                    " $3, $4)",
                    PgParams().Text(key).Int(window).Int(limit).OptionalInt(caller_now)));
      if (r.rows() != 1) {
        return Err(InternalError("store: the rate limiter returned no decision"));
      }
      return RateLimitDecision{r.Bool(0, 0), r.Int(0, 1)};
    });
  }

  // --- vaults ------------------------------------------------------------------------------

  Status InsertVault(const Vault& vault, const AuditEvent* audit) override {
    const StoreChange change = StoreChange::Vault(vault.id);
    return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      Status s = conn.Run(
          "INSERT INTO vaults (id, name, description, owner_id, created_at)"
          " VALUES ($1, $2, $3, $4, $5)",
          PgParams()
              .Text(vault.id)
              .Text(vault.name)
              .Text(vault.description)
              .Text(vault.owner_id)
              .Int(vault.created_at));
      if (s.code() == StatusCode::kAlreadyExists) {
        const std::string& constraint = conn.last_error().constraint;
        return constraint == "vaults_name_lower_key" || constraint == "vaults_owner_name_key"
                   ? AlreadyExistsError(VaultNameTaken(vault.name))
                   : AlreadyExistsError("a vault with this id already exists");
      }
      return s;
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

  // --- secrets -----------------------------------------------------------------------------

  StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& in, const SealFunction& seal,
                                           const AuditEvent* audit) override {
    SecretVersion stored;
    RETURN_IF_ERROR(Write(audit, [&](PgConnection& conn, AuditEvent* event) -> Status {
      SecretVersion header;
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
          break;
        }
        // No secret at the path yet: create it, unless another writer does first (then the
        // INSERT does nothing once that writer commits, and the UPDATE above is tried again).
        const std::string id = NewUuid();
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
      header.vault_id = in.vault_id;
      header.path = in.path;
      header.type = in.type;
      header.metadata_json = in.metadata_json;
      header.rotation_policy_json = in.rotation_policy_json;
      header.expires_at = in.expires_at;
      header.max_access_count = in.max_access_count;
      header.created_at = in.created_at;
      header.created_by = in.created_by;
      ASSIGN_OR_RETURN(const std::vector<uint8_t> ciphertext, seal(header));
      RETURN_IF_ERROR(InsertVersionRow(conn, header, ciphertext));
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
      ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
      if (r.rows() == 0) {
        return Err(NotFoundError("secret not found"));
      }
      if (r.IsNull(0, kVersionColumn)) {
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
      return ReadVersion(r, 0, /*with_ciphertext=*/true);
    });
  }

  StatusOr<std::vector<SecretVersion>> ListSecretVersions(std::string_view vault_id,
                                                          std::string_view path) override {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<SecretVersion>> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(kListVersionsSql, PgParams().Text(vault_id).Text(path)));
      if (r.rows() == 0) {
        return Err(NotFoundError("secret not found"));
      }
      return ReadAll<SecretVersion>(
          r, [](const PgResult& rr, int row) { return ReadVersion(rr, row, false); });
    });
  }

  StatusOr<SecretListPage> ListSecrets(std::string_view vault_id, std::string_view prefix,
                                       std::string_view after, size_t limit) override {
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

  Status DeleteSecret(std::string_view vault_id, std::string_view path,
                      const AuditEvent* audit) override {
    return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec("DELETE FROM secrets WHERE vault_id = $1 AND path = $2",
                                 PgParams().Text(vault_id).Text(path)));
      if (r.affected() == 0) {
        return NotFoundError("secret not found");
      }
      return OkStatus();
    });
  }

  StatusOr<SecretVersion> DisableSecretVersion(std::string_view vault_id, std::string_view path,
                                               int64_t version, UnixMicros at,
                                               const AuditEvent* audit) override {
    SecretVersion result;
    RETURN_IF_ERROR(Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
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
      return OkStatus();
    }));
    return result;
  }

  StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version,
                                        const AuditEvent* audit) override {
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

  Status ImportSecretVersion(const SecretVersion& v) override {
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
      return InsertVersionRow(conn, v, v.ciphertext);
    });
  }

 private:
  static Status InsertVersionRow(PgConnection& conn, const SecretVersion& v,
                                 const std::vector<uint8_t>& ciphertext) {
    return Reword(conn.Run("INSERT INTO secret_versions (secret_id, version, type, metadata_json,"
                           " rotation_policy_json, expires_at, max_access_count, access_count,"
                           " disabled_at, created_at, created_by, ciphertext)"
                           " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
                               .Bytes(ciphertext)),
                  StatusCode::kAlreadyExists, "the version already exists");
  }

  // The row of `columns_sql` (a SELECT … FROM table) whose id is `id`; kNotFound `not_found`.
  template <typename T>
  StatusOr<T> GetById(std::string_view columns_sql, std::string_view id,
                      std::string_view not_found, T (*read)(const PgResult&, int)) {
    return Read([&](PgConnection& conn) -> StatusOr<T> {
      ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(std::string(columns_sql) + " WHERE id = $1", PgParams().Text(id)));
      if (r.rows() == 0) {
        return Err(NotFoundError(std::string(not_found)));
      }
      return read(r, 0);
    });
  }

  // Every row of `columns_sql`, or those of `owner_id`, in creation order.
  template <typename T>
  StatusOr<std::vector<T>> ListByOwner(std::string_view columns_sql,
                                       std::optional<std::string_view> owner_id,
                                       T (*read)(const PgResult&, int)) {
    return Read([&](PgConnection& conn) -> StatusOr<std::vector<T>> {
      std::string sql(columns_sql);
      PgParams params;
      if (owner_id.has_value()) {
        sql += " WHERE owner_id = $1";
        params.Text(*owner_id);
      }
      sql += " ORDER BY created_at, ord";
      ASSIGN_OR_RETURN(PgResult r, conn.Exec(sql, params));
      return ReadAll<T>(r, read);
    });
  }

  // Runs `body(conn)` on a pooled connection, outside any transaction (each statement commits
  // on its own).
  template <typename Body>
  auto Read(Body body) -> std::invoke_result_t<Body, PgConnection&> {
    for (int attempt = 1;; ++attempt) {
      auto conn = pool_->Acquire();
      if (!conn.has_value()) {
        return Err(conn.error());
      }
      auto result = body(**conn);
      // A pooled connection the server closed meanwhile (a restart, a failover, an idle
      // timeout) fails on first use; a read is safe to run again on a fresh one.
      if (result.has_value() || !(*conn)->lost() || attempt == 2) {
        return result;
      }
      pool_->DropIdle();
    }
  }

  // Write, for a mutation of something the layers above may keep in memory: the same
  // transaction counts the change and announces it to every listening server (NOTIFY, sent at
  // commit, see pg_change_listener.h); once the call is over it is published to this process's
  // feed, whatever the outcome (a COMMIT that failed may still have happened).
  template <typename Body>
  Status WriteChange(const StoreChange& change, const AuditEvent* audit, Body body) {
    const std::string payload = ChangePayload(change);
    Status s = Write(audit, [&](PgConnection& conn, AuditEvent* event) -> Status {
      RETURN_IF_ERROR(body(conn, event));
      return conn.Run(kAnnounceChangeSql, PgParams().Text(payload));
    });
    changes_.Publish(change);
    return s;
  }

  // Runs `body(conn, event)` in a transaction and then, when `audit` is given, appends `event`
  // (a copy that `body` may complete with what only the row knows) in the same transaction:
  // both commit or neither. Retried from the start as RunPgTransaction says.
  template <typename Body>
  Status Write(const AuditEvent* audit, Body body) {
    return RunPgTransaction(*pool_, [&](PgConnection& conn) -> Status {
      // A fresh copy on every attempt: a failed one may have completed it.
      std::optional<AuditEvent> event;
      if (audit != nullptr) {
        event.emplace(*audit);
      }
      RETURN_IF_ERROR(body(conn, event.has_value() ? &*event : nullptr));
      if (!event.has_value()) {
        return OkStatus();
      }
      std::vector<AuditEvent*> events = {&*event};
      return AppendAuditEvents(conn, events);
    });
  }

  std::unique_ptr<PgPool> pool_;
  const RuleClockOption rate_limit_clock_;
  PgAuditBatcher batcher_;  // standalone appends (AppendAudit)
  ChangeFeed changes_{ChangeFeed::Writers::kShared};
  std::unique_ptr<PgChangeListener> listener_;  // after changes_, which it publishes to
};

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

std::string PostgresUrlWithDatabase(std::string_view url, std::string_view database) {
  const size_t host = url.find("://") + 3;
  const size_t slash = url.find('/', host);
  const size_t query = url.find('?', host);
  std::string out(url.substr(0, std::min(slash, query)));
  out += "/";
  out += database;
  if (query != std::string_view::npos) {
    out += url.substr(query);
  }
  return out;
}

std::string RedactPostgresUrl(std::string_view url) {
  std::string out(url);
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = out.find('@', start);
    const size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  const size_t password = out.find("password=");
  if (password != std::string::npos) {
    const size_t value = password + 9;
    const size_t end = out.find('&', value);
    out.replace(value, end == std::string::npos ? std::string::npos : end - value, "***");
  }
  return out;
}

StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresStoreOptions& options) {
  ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(options.url));
  const int pool_size = url.pool_size.value_or(options.pool_size);
  if (pool_size < 1) {
    return Err(InvalidArgumentError("store: pool_size must be at least 1"));
  }
  {
    // Migrations on a connection of their own, so its session lock ends with it.
    ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(url.conninfo));
    RETURN_IF_ERROR(ApplyPgMigrations(*conn, PgMigrations(), options.on_migration_notice));
  }
  auto pool = std::make_unique<PgPool>(url.conninfo, pool_size, options.pool_wait);
  auto store = std::make_unique<PostgresStoreImpl>(std::move(pool), options.rate_limit_clock);
  if (options.follow_changes) {
    store->FollowChanges(url.conninfo,
                         PgChangeListenerOptions{.on_state = options.on_follow_state});
  }
  return store;
}

StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace coffer
