// Schema of the SQLite store (migration 1 onward) and the migration runner.
#include "store/sqlite/sqlite_migrations.h"

#include <fmt/format.h>

#include <string>
#include <vector>

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

// A vault name means one vault in the whole deployment, compared without regard to case (names
// are ASCII, so lower() folds them all). The data step first makes existing names unique.
constexpr std::string_view kUniqueVaultNames = R"sql(
CREATE UNIQUE INDEX vaults_name_nocase ON vaults (lower(name));
)sql";

// Share links (POST /v1/secrets/{secret_id}/share): each names one version of a secret and is
// deleted with it. Only an HMAC of the link's token is kept, unique, so a reader of the
// database cannot redeem a link. The link's counters are checked and bumped in SQL.
constexpr std::string_view kShares = R"sql(
CREATE TABLE shares (
  id TEXT PRIMARY KEY,
  token_hmac BLOB NOT NULL UNIQUE CHECK (length(token_hmac) = 32),
  secret_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  recipient_type TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  max_access_count INTEGER NOT NULL CHECK (max_access_count >= 0),
  access_count INTEGER NOT NULL DEFAULT 0 CHECK (access_count >= 0),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  FOREIGN KEY (secret_id, version) REFERENCES secret_versions (secret_id, version)
    ON DELETE CASCADE
) STRICT;
CREATE INDEX shares_creator_created ON shares (created_by, created_at);
CREATE INDEX shares_secret ON shares (secret_id, version);
)sql";

// The data step of kUniqueVaultNames, and the tenancy rule for policies that came with it:
// - every vault whose name (without regard to case) an earlier vault already had is renamed
//   `<name>-<first 8 characters of its id>` (the earliest keeps the name; the full id if that
//   too is taken);
// - every policy naming an agent that was created by neither the agent's owner nor an admin is
//   deleted (such a grant can no longer be made).
Status MakeVaultNamesUnique(SqliteConnection& db, MigrationNotes& notes) {
  struct Rename {
    std::string id, name, owner_id, first_id;
  };
  std::vector<Rename> renames;
  {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("SELECT v.id, v.name, v.owner_id, (SELECT w.id FROM vaults w"
                                " WHERE lower(w.name) = lower(v.name)"
                                " ORDER BY w.created_at, w.rowid LIMIT 1)"
                                " FROM vaults v WHERE EXISTS (SELECT 1 FROM vaults w"
                                " WHERE lower(w.name) = lower(v.name) AND (w.created_at <"
                                " v.created_at OR (w.created_at = v.created_at AND w.rowid <"
                                " v.rowid))) ORDER BY v.created_at, v.rowid"));
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) break;
      renames.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3)});
    }
  }
  for (const Rename& r : renames) {
    std::string name = r.name + "-" + r.id.substr(0, 8);
    ASSIGN_OR_RETURN(SqliteStatement taken,
                     db.Prepare("SELECT 1 FROM vaults WHERE lower(name) = lower(?1)"));
    taken.BindText(1, name);
    ASSIGN_OR_RETURN(const bool is_taken, taken.Step());
    if (is_taken) name = r.name + "-" + r.id;
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE vaults SET name = ?2 WHERE id = ?1"));
    st.BindText(1, r.id);
    st.BindText(2, name);
    RETURN_IF_ERROR(st.Run());
    notes.push_back(fmt::format(
        "vault {} (owner {}) renamed from '{}' to '{}': vault names are now unique without "
        "regard to case, and vault {} had the name first",
        r.id, r.owner_id, r.name, name, r.first_id));
  }
  struct Grant {
    std::string id, vault_id, agent_id, created_by;
  };
  std::vector<Grant> grants;
  {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("SELECT p.id, p.vault_id, p.principal_id, p.created_by"
                                " FROM policies p WHERE p.principal_kind = 'agent'"
                                " AND NOT EXISTS (SELECT 1 FROM agents a WHERE"
                                " a.id = p.principal_id AND a.owner_id = p.created_by)"
                                " AND NOT EXISTS (SELECT 1 FROM users u WHERE"
                                " u.id = p.created_by AND u.is_admin = 1)"
                                " ORDER BY p.created_at, p.rowid"));
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) break;
      grants.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3)});
    }
  }
  for (const Grant& g : grants) {
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM policies WHERE id = ?1"));
    st.BindText(1, g.id);
    RETURN_IF_ERROR(st.Run());
    notes.push_back(fmt::format(
        "policy {} of vault {} deleted: it named agent {} but was created by {}, who is neither "
        "the agent's owner nor an admin",
        g.id, g.vault_id, g.agent_id, g.created_by));
  }
  return OkStatus();
}

// Agents can be deactivated (PATCH /v1/agents/{id} is_active false) and reactivated; the time
// it was deactivated, NULL while active. Self-contained, so it can be renumbered.
constexpr std::string_view kAgentDeactivation = R"sql(
ALTER TABLE agents ADD COLUMN deactivated_at INTEGER;
)sql";

// GET /v1/audit/events filters by resource_id, which for a secret's events is its path (the
// path of any vault): this index serves that side of the filter as audit_events_vault_seq
// serves the vault side.
constexpr std::string_view kAuditPathIndex = R"sql(
CREATE INDEX audit_events_path_seq ON audit_events (path, seq);
)sql";

// Policies say whether they allow or deny, carry a priority, and may hold conditions: an
// hour-of-day window (all four window_ columns set, or none) and an allow list of client networks
// (canonical CIDR blocks joined by spaces, '' for any address). Existing policies become
// unconditional allows, which is what they were.
constexpr std::string_view kPolicyEffectAndConditions = R"sql(
ALTER TABLE policies ADD COLUMN effect TEXT NOT NULL DEFAULT 'allow'
  CHECK (effect IN ('allow', 'deny'));
ALTER TABLE policies ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority >= 0);
ALTER TABLE policies ADD COLUMN window_start_hour INTEGER
  CHECK (window_start_hour BETWEEN 0 AND 23);
ALTER TABLE policies ADD COLUMN window_end_hour INTEGER CHECK (window_end_hour BETWEEN 0 AND 24);
ALTER TABLE policies ADD COLUMN window_days INTEGER CHECK (window_days BETWEEN 1 AND 127);
ALTER TABLE policies ADD COLUMN window_timezone TEXT;
ALTER TABLE policies ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN updated_at INTEGER;
)sql";

// Rotation schedules, one row per scheduled secret, found by due time; and which time-driven
// events (bit 1: expiring, bit 2: expired) each version has announced, so each fires once.
constexpr std::string_view kRotationSchedules = R"sql(
CREATE TABLE secret_schedules (
  secret_id TEXT PRIMARY KEY REFERENCES secrets (id) ON DELETE CASCADE,
  policy_json TEXT NOT NULL,
  next_rotation_at INTEGER NOT NULL,
  disable_version INTEGER NOT NULL DEFAULT 0,
  disable_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX secret_schedules_due ON secret_schedules (next_rotation_at);
CREATE INDEX secret_schedules_disable_due ON secret_schedules (disable_at)
  WHERE disable_version <> 0;
ALTER TABLE secret_versions ADD COLUMN expiry_events INTEGER NOT NULL DEFAULT 0;
CREATE INDEX secret_versions_unannounced_expiry ON secret_versions (expires_at)
  WHERE expires_at IS NOT NULL AND disabled_at IS NULL AND expiry_events <> 3;
)sql";

// Version lifecycle: destroyed versions (ciphertext erased, row kept), kept-version limits per
// vault and per secret (0: none), and named aliases of a secret's versions.
constexpr std::string_view kVersionLifecycleSchema = R"sql(
ALTER TABLE secret_versions ADD COLUMN destroyed_at INTEGER;
ALTER TABLE secrets ADD COLUMN max_versions INTEGER NOT NULL DEFAULT 0 CHECK (max_versions >= 0);
ALTER TABLE vaults ADD COLUMN max_versions INTEGER NOT NULL DEFAULT 0 CHECK (max_versions >= 0);
CREATE TABLE secret_aliases (
  secret_id TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (secret_id, alias),
  FOREIGN KEY (secret_id, version) REFERENCES secret_versions (secret_id, version)
    ON DELETE CASCADE
) STRICT;
)sql";

// Webhooks (docs/webhooks.md): endpoints of a vault, deleted with it; their signing secret only
// sealed by the keyring. webhook_deliveries is the outbox the dispatcher fills from the audit
// chain; webhook_cursor (one row) is the audit seq dispatched so far, starting at the chain's
// head when this runs (earlier events had no endpoint to go to).
constexpr std::string_view kWebhookOutbox = R"sql(
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  vault_id TEXT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  description TEXT NOT NULL,
  events TEXT NOT NULL,
  sealed_secret BLOB NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  start_after_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_vault_created ON webhooks (vault_id, created_at);
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  vault_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  audit_seq INTEGER NOT NULL,
  payload_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  last_status_code INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
CREATE TABLE webhook_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  after_seq INTEGER NOT NULL
) STRICT;
INSERT INTO webhook_cursor (id, after_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM audit_events;
)sql";

// Usage (batched read counts, docs/usage.md) and key grace windows: a version's and a secret's
// last read (time and principal id) and a secret's reads over all its versions; an agent's last
// authenticated use; a credential revoked in the future (a rotation's grace) is marked until the
// sweep has audited the end of its grace. Existing rows start unread and unused.
constexpr std::string_view kUsageAndKeyGrace = R"sql(
ALTER TABLE secret_versions ADD COLUMN last_read_at INTEGER;
ALTER TABLE secret_versions ADD COLUMN last_read_by TEXT;
ALTER TABLE secrets ADD COLUMN read_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE secrets ADD COLUMN last_read_at INTEGER;
ALTER TABLE secrets ADD COLUMN last_read_by TEXT;
ALTER TABLE agents ADD COLUMN last_used_at INTEGER;
ALTER TABLE credentials ADD COLUMN grace_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX credentials_grace_pending ON credentials (revoked_at) WHERE grace_pending = 1;
)sql";

// The API gateway: audit events' details (compact JSON, '' for none; hashed when not empty),
// agents' bindings (a credential, as a secret's vault and path, and where it may be sent; a
// name unique per agent), the record of each call made through one, and the fixed-window use
// counters of the gateway's rate limits and budgets.
constexpr std::string_view kGateway = R"sql(
ALTER TABLE audit_events ADD COLUMN details TEXT NOT NULL DEFAULT '';
CREATE TABLE bindings (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  binding_type TEXT NOT NULL,
  config_json TEXT NOT NULL,
  guardrails_json TEXT NOT NULL,
  vault_id TEXT NOT NULL,
  path TEXT NOT NULL,
  is_active INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (agent_id, name)
) STRICT;
CREATE TABLE executions (
  id TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  binding_id TEXT NOT NULL,
  binding_name TEXT NOT NULL,
  intent_type TEXT NOT NULL,
  mode TEXT NOT NULL,
  status TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  upstream_status INTEGER NOT NULL,
  secret_version INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  request_bytes INTEGER NOT NULL,
  response_bytes INTEGER NOT NULL,
  redactions INTEGER NOT NULL,
  error_message TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX executions_agent_created ON executions (agent_id, created_at);
CREATE TABLE use_counters (
  key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
) STRICT;
CREATE INDEX use_counters_window_end ON use_counters (window_end);
)sql";

// Pepper rotation: each stored HMAC names the pepper chain that made it (crypto/keyring.h); the
// rows of before were all made under the active pepper.
constexpr std::string_view kPepperChains = R"sql(
ALTER TABLE credentials ADD COLUMN pepper_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE shares ADD COLUMN pepper_ids TEXT NOT NULL DEFAULT '';
UPDATE credentials SET pepper_ids = COALESCE((SELECT CAST(MAX(id) AS TEXT) FROM keys
  WHERE purpose = 'hmac-pepper' AND active = 1), '');
UPDATE shares SET pepper_ids = COALESCE((SELECT CAST(MAX(id) AS TEXT) FROM keys
  WHERE purpose = 'hmac-pepper' AND active = 1), '');
)sql";

// Dashboard sessions (store/session_store.h): the SHA-256 of the cookie, never the cookie.
constexpr std::string_view kUiSessions = R"sql(
CREATE TABLE ui_sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
)sql";

constexpr SqliteMigration kMigrations[] = {
    {1, "initial schema", kInitialSchema},
    {2, "agents, policies, audit chain, rate limits", kIdentityAndAuditSchema},
    {3, "audit events record the HTTP status", kAuditHttpStatus},
    {4, "audit events count the requests they summarise", kAuditRequestCount},
    {5, "vault names are unique without regard to case", kUniqueVaultNames, MakeVaultNamesUnique},
    {6, "agents can be deactivated and reactivated", kAgentDeactivation},
    {7, "audit events are found by path", kAuditPathIndex},
    {8, "share links of secrets", kShares},
    {9, "policies: effect, priority, time window and client network conditions",
     kPolicyEffectAndConditions},
    {10, "rotation schedules and announced expiry events", kRotationSchedules},
    {11, "version lifecycle: aliases, destroyed versions, kept-version limits",
     kVersionLifecycleSchema},
    {12, "webhooks: endpoints, delivery outbox, dispatch cursor", kWebhookOutbox},
    {13, "usage: last reads of versions and secrets, agents' last use; key grace windows",
     kUsageAndKeyGrace},
    {14, "gateway: audit details, bindings, executions, use counters", kGateway},
    {15, "pepper rotation: stored HMACs name their pepper chain", kPepperChains},
    {16, "dashboard sessions", kUiSessions},
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

// Applies `m` unless recorded, adding its data step's notes to `notes`. REQUIRES: a write
// transaction is open on `db`.
Status ApplyOne(SqliteConnection& db, const SqliteMigration& m, int64_t known, UnixMicros now,
                MigrationNotes& notes) {
  ASSIGN_OR_RETURN(const int64_t recorded, RecordedVersion(db));
  ASSIGN_OR_RETURN(const MigrationStep step, NextMigrationStep(recorded, m.version, known));
  if (step == MigrationStep::kSkip) {
    return OkStatus();
  }
  if (m.data_step != nullptr) {
    RETURN_IF_ERROR(m.data_step(db, notes));
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
    // The failure that led here is what the caller gets; a failed ROLLBACK adds nothing to it.
    (void)db.Exec("ROLLBACK");
  }
  return status;
}

}  // namespace

std::span<const SqliteMigration> SqliteMigrations() { return kMigrations; }

Status ApplySqliteMigrations(SqliteConnection& db, std::span<const SqliteMigration> migrations,
                             UnixMicros now, const MigrationNotice& notice) {
  RETURN_IF_ERROR(InWriteTransaction(db, [&] { return db.Exec(kCreateMigrationsTable); }));
  const int64_t known = migrations.empty() ? 0 : migrations.back().version;
  for (const SqliteMigration& m : migrations) {
    MigrationNotes notes;
    RETURN_IF_ERROR(InWriteTransaction(db, [&] { return ApplyOne(db, m, known, now, notes); }));
    for (const std::string& note : notes) {
      if (notice) notice(fmt::format("store migration {}: {}", m.version, note));
    }
  }
  return OkStatus();
}

}  // namespace coffer
