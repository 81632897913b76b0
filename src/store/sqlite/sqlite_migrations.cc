// Schema of the SQLite store (migration 1 onward) and the migration runner.
#include "store/sqlite/sqlite_migrations.h"

#include <string>

#include "store/migration_step.h"

namespace coffer {

namespace {

// Times are Unix microseconds (INTEGER). Booleans are INTEGER 0/1. Secret types and principal
// kinds are stored by name. Ciphertext is the last column of secret_versions so that reading
// metadata never touches the blob's overflow pages.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE keys (
  id INTEGER PRIMARY KEY,
  purpose TEXT NOT NULL,
  wrapped BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  active INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT;
-- At most one active key per purpose.
CREATE UNIQUE INDEX keys_active_purpose ON keys (purpose) WHERE active = 1;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  is_admin INTEGER NOT NULL CHECK (is_admin IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE credentials (
  public_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  principal_kind TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  name TEXT NOT NULL,
  secret_hmac BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;
CREATE INDEX credentials_principal ON credentials (principal_kind, principal_id);

CREATE TABLE vaults (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (owner_id, name)
) STRICT;
CREATE INDEX vaults_created ON vaults (created_at);
CREATE INDEX vaults_owner_created ON vaults (owner_id, created_at);

-- UNIQUE (vault_id, path) also serves prefix range scans and the vault foreign key.
CREATE TABLE secrets (
  id TEXT PRIMARY KEY,
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  latest_version INTEGER NOT NULL,
  UNIQUE (vault_id, path)
) STRICT;

CREATE TABLE secret_versions (
  secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  type TEXT NOT NULL,
  metadata_json TEXT NOT NULL,
  rotation_policy_json TEXT NOT NULL,
  expires_at INTEGER,
  max_access_count INTEGER NOT NULL CHECK (max_access_count >= 0),
  access_count INTEGER NOT NULL DEFAULT 0,
  disabled_at INTEGER,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  ciphertext BLOB NOT NULL,
  PRIMARY KEY (secret_id, version)
) STRICT;
-- Finds the latest enabled version without visiting disabled rows.
CREATE INDEX secret_versions_enabled ON secret_versions (secret_id, version)
  WHERE disabled_at IS NULL;
)sql";

// Agents, policies, the audit chain and rate-limit hits. The audit table has no foreign key to
// vaults: its events outlive what they are about. seq is assigned by the store (INTEGER PRIMARY
// KEY, so a second writer of the same seq fails on the key); the triggers make the chain
// append-only against any code path that would rewrite or trim it.
constexpr std::string_view kIdentityAndAuditSchema = R"sql(
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  UNIQUE (owner_id, name)
) STRICT;
CREATE INDEX agents_created ON agents (created_at);
CREATE INDEX agents_owner_created ON agents (owner_id, created_at);

CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  principal_kind TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  path_glob TEXT NOT NULL,
  permissions INTEGER NOT NULL CHECK (permissions BETWEEN 0 AND 255),
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) STRICT;
CREATE INDEX policies_vault ON policies (vault_id);
CREATE INDEX policies_principal ON policies (principal_kind, principal_id);

CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  at INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  action TEXT NOT NULL,
  vault_id TEXT NOT NULL,
  path TEXT NOT NULL,
  version INTEGER NOT NULL,
  client_ip TEXT NOT NULL,
  outcome TEXT NOT NULL,
  status TEXT NOT NULL,
  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
  hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE INDEX audit_events_vault_seq ON audit_events (vault_id, seq);
CREATE INDEX audit_events_actor_seq ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action_seq ON audit_events (action, seq);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- One row per allowed hit; a key's rows older than its window are deleted as it is hit.
CREATE TABLE rate_limit_hits (
  key TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limit_hits_key_at ON rate_limit_hits (key, at);
)sql";

// The HTTP status of a successful request, which the canonical status name alone cannot tell
// (201 vs 200 vs 204). Part of the hashed event.
constexpr std::string_view kAuditHttpStatus = R"sql(
ALTER TABLE audit_events ADD COLUMN http_status INTEGER NOT NULL DEFAULT 0;
)sql";

// How many requests an event stands for when it summarises several (a count of refusals of one
// client address); 0 for the event of one request. Part of the hashed event when not 0.
constexpr std::string_view kAuditRequestCount = R"sql(
ALTER TABLE audit_events ADD COLUMN request_count INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr SqliteMigration kMigrations[] = {
    {1, "initial schema", kInitialSchema},
    {2, "agents, policies, audit chain, rate limits", kIdentityAndAuditSchema},
    {3, "audit events record the HTTP status", kAuditHttpStatus},
    {4, "audit events count the requests they summarise", kAuditRequestCount},
};

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT";

StatusOr<int64_t> RecordedVersion(SqliteConnection& db) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  ASSIGN_OR_RETURN(const bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

// Applies `m` unless recorded. REQUIRES: a write transaction is open on `db`.
Status ApplyOne(SqliteConnection& db, const SqliteMigration& m, int64_t known, UnixMicros now) {
  ASSIGN_OR_RETURN(const int64_t recorded, RecordedVersion(db));
  ASSIGN_OR_RETURN(const MigrationStep step, NextMigrationStep(recorded, m.version, known));
  if (step == MigrationStep::kSkip) {
    return OkStatus();
  }
  RETURN_IF_ERROR(db.Exec(m.sql));
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("INSERT INTO schema_migrations (version, name, applied_at) "
                              "VALUES (?1, ?2, ?3)"));
  st.BindInt(1, m.version);
  st.BindText(2, m.name);
  st.BindInt(3, now);
  return st.Run();
}

// Runs `body` in a BEGIN IMMEDIATE transaction: committed when it returns OK, else rolled back.
template <typename Body>
Status InWriteTransaction(SqliteConnection& db, Body body) {
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) {
    status = db.Exec("COMMIT");
  }
  if (!status.ok() && db.InTransaction()) {
    (void)db.Exec("ROLLBACK");
  }
  return status;
}

}  // namespace

std::span<const SqliteMigration> SqliteMigrations() { return kMigrations; }

Status ApplySqliteMigrations(SqliteConnection& db, std::span<const SqliteMigration> migrations,
                             UnixMicros now) {
  RETURN_IF_ERROR(InWriteTransaction(db, [&] { return db.Exec(kCreateMigrationsTable); }));
  const int64_t known = migrations.empty() ? 0 : migrations.back().version;
  for (const SqliteMigration& m : migrations) {
    RETURN_IF_ERROR(InWriteTransaction(db, [&] { return ApplyOne(db, m, known, now); }));
  }
  return OkStatus();
}

}  // namespace coffer
