// The PostgreSQL schema (migration 1 onward) and the migration runner.
#include "store/postgres/pg_migrations.h"

#include <fmt/format.h>

#include <string>

#include "store/migration_step.h"

namespace coffer {

namespace {

// The same tables as the SQLite store's migrations 1-3, in PostgreSQL types. Times are Unix
// microseconds (bigint). Paths use the "C" collation so they compare bytewise, as the Store
// contract says. `ord` columns (identity) break creation-time ties in insertion order, as
// SQLite's rowid does. Constraint names are fixed because the store words errors by them.
//
// Beyond SQLite's tables: audit_head, the one row every audit append locks (FOR UPDATE), so
// appends from any number of servers are serialized and seq stays dense; the rate limiter as
// one SQL function that decides under a per-key advisory lock by the database's clock; and
// coffer_now_micros(), the database's clock for every rule a server enforces.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE keys (
  id bigint PRIMARY KEY CHECK (id BETWEEN 0 AND 4294967295),
  purpose text NOT NULL,
  wrapped bytea NOT NULL,
  created_at bigint NOT NULL,
  active boolean NOT NULL
);
CREATE UNIQUE INDEX keys_active_purpose ON keys (purpose) WHERE active;

CREATE TABLE users (
  id text PRIMARY KEY,
  name text NOT NULL,
  is_admin boolean NOT NULL,
  created_at bigint NOT NULL,
  ord bigint GENERATED ALWAYS AS IDENTITY,
  CONSTRAINT users_name_key UNIQUE (name)
);
CREATE INDEX users_created ON users (created_at, ord);

CREATE TABLE credentials (
  public_id text PRIMARY KEY,
  kind text NOT NULL,
  principal_kind text NOT NULL,
  principal_id text NOT NULL,
  name text NOT NULL,
  secret_hmac bytea NOT NULL,
  created_at bigint NOT NULL,
  revoked_at bigint,
  ord bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX credentials_principal ON credentials (principal_kind, principal_id, created_at, ord);

CREATE TABLE vaults (
  id text PRIMARY KEY,
  name text NOT NULL,
  description text NOT NULL,
  owner_id text NOT NULL,
  created_at bigint NOT NULL,
  ord bigint GENERATED ALWAYS AS IDENTITY,
  CONSTRAINT vaults_owner_name_key UNIQUE (owner_id, name)
);
CREATE INDEX vaults_created ON vaults (created_at, ord);
CREATE INDEX vaults_owner_created ON vaults (owner_id, created_at, ord);

CREATE TABLE secrets (
  id text PRIMARY KEY,
  vault_id text NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  path text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  latest_version bigint NOT NULL CHECK (latest_version >= 1),
  CONSTRAINT secrets_vault_path_key UNIQUE (vault_id, path)
);

CREATE TABLE secret_versions (
  secret_id text NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
  version bigint NOT NULL CHECK (version >= 1),
  type text NOT NULL,
  metadata_json text NOT NULL,
  rotation_policy_json text NOT NULL,
  expires_at bigint,
  max_access_count bigint NOT NULL CHECK (max_access_count >= 0),
  access_count bigint NOT NULL DEFAULT 0 CHECK (access_count >= 0),
  disabled_at bigint,
  created_at bigint NOT NULL,
  created_by text NOT NULL,
  ciphertext bytea NOT NULL,
  CONSTRAINT secret_versions_pkey PRIMARY KEY (secret_id, version)
);
CREATE INDEX secret_versions_enabled ON secret_versions (secret_id, version)
  WHERE disabled_at IS NULL;

CREATE TABLE agents (
  id text PRIMARY KEY,
  name text NOT NULL,
  description text NOT NULL,
  owner_id text NOT NULL,
  created_at bigint NOT NULL,
  revoked_at bigint,
  ord bigint GENERATED ALWAYS AS IDENTITY,
  CONSTRAINT agents_owner_name_key UNIQUE (owner_id, name)
);
CREATE INDEX agents_created ON agents (created_at, ord);
CREATE INDEX agents_owner_created ON agents (owner_id, created_at, ord);

CREATE TABLE policies (
  id text PRIMARY KEY,
  vault_id text NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  principal_kind text NOT NULL,
  principal_id text NOT NULL,
  path_glob text NOT NULL,
  permissions integer NOT NULL CHECK (permissions BETWEEN 0 AND 255),
  expires_at bigint,
  created_at bigint NOT NULL,
  created_by text NOT NULL,
  ord bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX policies_vault ON policies (vault_id, created_at, ord);
CREATE INDEX policies_principal ON policies (principal_kind, principal_id, created_at, ord);

CREATE TABLE audit_events (
  seq bigint PRIMARY KEY CHECK (seq >= 1),
  at bigint NOT NULL,
  request_id text NOT NULL,
  actor_kind text NOT NULL,
  actor_id text NOT NULL,
  action text NOT NULL,
  vault_id text NOT NULL,
  path text NOT NULL,
  version bigint NOT NULL,
  client_ip text NOT NULL,
  outcome text NOT NULL,
  status text NOT NULL,
  http_status integer NOT NULL,
  prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
  hash bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_events_vault_seq ON audit_events (vault_id, seq);
CREATE INDEX audit_events_actor_seq ON audit_events (actor_id, seq);
CREATE INDEX audit_events_action_seq ON audit_events (action, seq);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE FUNCTION coffer_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION coffer_audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION coffer_audit_append_only();

CREATE TABLE audit_head (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq bigint NOT NULL CHECK (seq >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE rate_limit_hits (
  key text NOT NULL,
  at bigint NOT NULL
);
CREATE INDEX rate_limit_hits_key_at ON rate_limit_hits (key, at);

CREATE FUNCTION coffer_now_micros() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
$$;

-- One hit of `p_key`'s sliding window: (now - window, now] holds at most `p_limit` hits. `now`
-- is the database's clock, read after the key's lock is held, unless `p_now` is given.
CREATE FUNCTION coffer_rate_limit_hit(p_key text, p_window bigint, p_limit bigint,
                                      p_now bigint, OUT allowed boolean,
                                      OUT retry_after bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint;
  v_count bigint;
  v_oldest bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(1668244082, hashtext(p_key));
  v_now := COALESCE(p_now, coffer_now_micros());
  DELETE FROM rate_limit_hits WHERE key = p_key AND at <= v_now - p_window;
  SELECT count(*), min(at) INTO v_count, v_oldest
    FROM rate_limit_hits WHERE key = p_key AND at > v_now - p_window;
  IF v_count >= p_limit THEN
    allowed := false;
    retry_after := v_oldest + p_window - v_now;
  ELSE
    INSERT INTO rate_limit_hits (key, at) VALUES (p_key, v_now);
    allowed := true;
    retry_after := 0;
  END IF;
END
$$;
)sql";

// A counter every change to something a server may keep in memory (credentials, agents,
// vaults, policies) bumps in its own transaction before it NOTIFYs coffer_changes with the new
// value (pg_change_listener.h): a server that reads the counter ahead of the notifications it
// has seen knows it missed some.
constexpr std::string_view kChangeGeneration = R"sql(
CREATE TABLE change_generation (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  generation bigint NOT NULL
);
INSERT INTO change_generation (id, generation) VALUES (true, 0);
)sql";

// As SQLite's migration 4: how many requests an audit event summarises (0: its own request).
constexpr std::string_view kAuditRequestCount = R"sql(
ALTER TABLE audit_events ADD COLUMN request_count bigint NOT NULL DEFAULT 0;
)sql";

// A vault name means one vault in the whole deployment, compared without regard to case (names
// are ASCII). The data step first makes existing names unique; the index makes concurrent
// creates of one name, on any server, end with exactly one vault.
constexpr std::string_view kUniqueVaultNames = R"sql(
CREATE UNIQUE INDEX vaults_name_lower_key ON vaults (lower(name));
)sql";

// As SQLite's migration 8: share links, each naming one version of a secret and deleted with
// it; only an HMAC of the link's token is kept.
constexpr std::string_view kShares = R"sql(
CREATE TABLE shares (
  id text PRIMARY KEY,
  token_hmac bytea NOT NULL CHECK (length(token_hmac) = 32),
  secret_id text NOT NULL,
  version bigint NOT NULL CHECK (version >= 1),
  recipient_type text NOT NULL,
  expires_at bigint NOT NULL,
  max_access_count bigint NOT NULL CHECK (max_access_count >= 0),
  access_count bigint NOT NULL DEFAULT 0 CHECK (access_count >= 0),
  created_by text NOT NULL,
  created_at bigint NOT NULL,
  revoked_at bigint,
  ord bigint GENERATED ALWAYS AS IDENTITY,
  CONSTRAINT shares_token_hmac_key UNIQUE (token_hmac),
  FOREIGN KEY (secret_id, version) REFERENCES secret_versions (secret_id, version)
    ON DELETE CASCADE
);
CREATE INDEX shares_creator_created ON shares (created_by, created_at, ord);
CREATE INDEX shares_secret ON shares (secret_id, version);
)sql";

// The data step of kUniqueVaultNames, as the SQLite store's migration 5 (sqlite_migrations.cc):
// later vaults of a name are renamed `<name>-<first 8 characters of the id>`, and policies
// naming an agent that neither its owner nor an admin created are deleted. Servers of the
// previous version may still run: the tables are locked against writes until this commits.
Status MakeVaultNamesUnique(PgConnection& conn, MigrationNotes& notes) {
  RETURN_IF_ERROR(conn.ExecScript("LOCK TABLE vaults, policies IN EXCLUSIVE MODE"));
  ASSIGN_OR_RETURN(
      PgResult dups,
      conn.Exec("SELECT v.id, v.name, v.owner_id, (SELECT w.id FROM vaults w"
                " WHERE lower(w.name) = lower(v.name) ORDER BY w.created_at, w.ord LIMIT 1)"
                " FROM vaults v WHERE EXISTS (SELECT 1 FROM vaults w"
                " WHERE lower(w.name) = lower(v.name) AND (w.created_at, w.ord) <"
                " (v.created_at, v.ord)) ORDER BY v.created_at, v.ord"));
  for (int i = 0; i < dups.rows(); ++i) {
    const std::string id = dups.Text(i, 0);
    const std::string old_name = dups.Text(i, 1);
    std::string name = old_name + "-" + id.substr(0, 8);
    ASSIGN_OR_RETURN(PgResult taken, conn.Exec("SELECT 1 FROM vaults WHERE lower(name) = lower($1)",
                                               PgParams().Text(name)));
    if (taken.rows() > 0) name = old_name + "-" + id;
    RETURN_IF_ERROR(
        conn.Run("UPDATE vaults SET name = $2 WHERE id = $1", PgParams().Text(id).Text(name)));
    notes.push_back(fmt::format(
        "vault {} (owner {}) renamed from '{}' to '{}': vault names are now unique without "
        "regard to case, and vault {} had the name first",
        id, dups.Text(i, 2), old_name, name, dups.Text(i, 3)));
  }
  ASSIGN_OR_RETURN(
      PgResult grants,
      conn.Exec("DELETE FROM policies p WHERE p.principal_kind = 'agent'"
                " AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = p.principal_id"
                " AND a.owner_id = p.created_by)"
                " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = p.created_by AND u.is_admin)"
                " RETURNING p.id, p.vault_id, p.principal_id, p.created_by"));
  const bool renamed_or_deleted = dups.rows() > 0 || grants.rows() > 0;
  for (int i = 0; i < grants.rows(); ++i) {
    notes.push_back(fmt::format(
        "policy {} of vault {} deleted: it named agent {} but was created by {}, who is neither "
        "the agent's owner nor an admin",
        grants.Text(i, 0), grants.Text(i, 1), grants.Text(i, 2), grants.Text(i, 3)));
  }
  if (!renamed_or_deleted) return OkStatus();
  // Servers following the change feed (pg_change_listener.h) see the counter ahead of the
  // notifications they heard and forget what they keep of vaults and policies.
  return conn.Run("UPDATE change_generation SET generation = generation + 1");
}

// Agents can be deactivated (PATCH /v1/agents/{id} is_active false) and reactivated; the time
// it was deactivated, NULL while active. Self-contained, so it can be renumbered.
constexpr std::string_view kAgentDeactivation = R"sql(
ALTER TABLE agents ADD COLUMN deactivated_at bigint;
)sql";

// As SQLite's migration 7: the index behind GET /v1/audit/events?resource_id= for a secret's
// events (their path). CONCURRENTLY is not used: migrations run in a transaction.
constexpr std::string_view kAuditPathIndex = R"sql(
CREATE INDEX audit_events_path_seq ON audit_events (path, seq);
)sql";

// Policies say whether they allow or deny, carry a priority, and may hold conditions: an
// hour-of-day window (all four window_ columns set, or none) and an allow list of client networks
// (canonical CIDR blocks joined by spaces, '' for any address). Existing policies become
// unconditional allows, which is what they were. Servers of the previous version keep working
// while this runs: they neither read nor write the new columns.
constexpr std::string_view kPolicyEffectAndConditions = R"sql(
ALTER TABLE policies
  ADD COLUMN effect text NOT NULL DEFAULT 'allow' CHECK (effect IN ('allow', 'deny')),
  ADD COLUMN priority bigint NOT NULL DEFAULT 0 CHECK (priority >= 0),
  ADD COLUMN window_start_hour integer CHECK (window_start_hour BETWEEN 0 AND 23),
  ADD COLUMN window_end_hour integer CHECK (window_end_hour BETWEEN 0 AND 24),
  ADD COLUMN window_days integer CHECK (window_days BETWEEN 1 AND 127),
  ADD COLUMN window_timezone text,
  ADD COLUMN ip_allowlist text NOT NULL DEFAULT '',
  ADD COLUMN updated_at bigint;
)sql";

// Rotation schedules, one row per scheduled secret, found by due time; and which time-driven
// events (bit 1: expiring, bit 2: expired) each version has announced, so each fires once.
constexpr std::string_view kRotationSchedules = R"sql(
CREATE TABLE secret_schedules (
  secret_id text PRIMARY KEY REFERENCES secrets (id) ON DELETE CASCADE,
  policy_json text NOT NULL,
  next_rotation_at bigint NOT NULL,
  disable_version bigint NOT NULL DEFAULT 0,
  disable_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX secret_schedules_due ON secret_schedules (next_rotation_at);
CREATE INDEX secret_schedules_disable_due ON secret_schedules (disable_at)
  WHERE disable_version <> 0;
ALTER TABLE secret_versions ADD COLUMN expiry_events bigint NOT NULL DEFAULT 0;
CREATE INDEX secret_versions_unannounced_expiry ON secret_versions (expires_at)
  WHERE expires_at IS NOT NULL AND disabled_at IS NULL AND expiry_events <> 3;
)sql";

// As SQLite's version lifecycle migration: destroyed versions (ciphertext erased, row kept),
// kept-version limits per vault and per secret (0: none), and named aliases of a secret's
// versions. Servers of the previous version keep working while this runs (new columns have
// defaults), though they neither honour aliases nor retention.
constexpr std::string_view kVersionLifecycleSchema = R"sql(
ALTER TABLE secret_versions ADD COLUMN destroyed_at bigint;
ALTER TABLE secrets ADD COLUMN max_versions bigint NOT NULL DEFAULT 0 CHECK (max_versions >= 0);
ALTER TABLE vaults ADD COLUMN max_versions bigint NOT NULL DEFAULT 0 CHECK (max_versions >= 0);
CREATE TABLE secret_aliases (
  secret_id text NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
  alias text NOT NULL,
  version bigint NOT NULL,
  CONSTRAINT secret_aliases_pkey PRIMARY KEY (secret_id, alias),
  FOREIGN KEY (secret_id, version) REFERENCES secret_versions (secret_id, version)
    ON DELETE CASCADE
);
)sql";

// As SQLite's webhook migration. Webhooks (docs/webhooks.md): endpoints of a vault, deleted with
// it; their signing secret only sealed by the keyring. webhook_deliveries is the outbox the
// dispatcher fills from the audit chain; webhook_cursor (one row) is the audit seq dispatched so
// far, starting at the chain's head when this runs (earlier events had no endpoint to go to).
constexpr std::string_view kWebhookOutbox = R"sql(
CREATE TABLE webhooks (
  id text PRIMARY KEY,
  vault_id text NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
  url text NOT NULL,
  description text NOT NULL,
  events text NOT NULL,
  sealed_secret bytea NOT NULL,
  created_by text NOT NULL,
  created_at bigint NOT NULL,
  ord bigint GENERATED ALWAYS AS IDENTITY,
  start_after_seq bigint NOT NULL
);
CREATE INDEX webhooks_vault_created ON webhooks (vault_id, created_at);
CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  vault_id text NOT NULL,
  event_type text NOT NULL,
  audit_seq bigint NOT NULL,
  payload_json text NOT NULL,
  created_at bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts bigint NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  last_attempt_at bigint,
  last_status_code bigint NOT NULL DEFAULT 0,
  last_error text NOT NULL DEFAULT '',
  lease_owner text NOT NULL DEFAULT '',
  lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE state = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
CREATE TABLE webhook_cursor (
  id integer PRIMARY KEY CHECK (id = 1),
  after_seq bigint NOT NULL
);
INSERT INTO webhook_cursor (id, after_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM audit_events;
)sql";

// As SQLite's kUsageAndKeyGrace: usage columns (docs/usage.md) and the mark of a credential
// whose grace (a future revoked_at) has not yet been audited as ended. Servers of the previous
// version neither read nor write the new columns.
constexpr std::string_view kUsageAndKeyGrace = R"sql(
ALTER TABLE secret_versions
  ADD COLUMN last_read_at bigint,
  ADD COLUMN last_read_by text;
ALTER TABLE secrets
  ADD COLUMN read_count bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_read_at bigint,
  ADD COLUMN last_read_by text;
ALTER TABLE agents ADD COLUMN last_used_at bigint;
ALTER TABLE credentials ADD COLUMN grace_pending boolean NOT NULL DEFAULT false;
CREATE INDEX credentials_grace_pending ON credentials (revoked_at) WHERE grace_pending;
)sql";

// As SQLite's kGateway: audit events' details, agents' bindings, the record of each call made
// through one, and the gateway's fixed-window use counters (written without a synchronous
// commit of their own, see postgres_bindings.cc).
constexpr std::string_view kGateway = R"sql(
ALTER TABLE audit_events ADD COLUMN details text NOT NULL DEFAULT '';
CREATE TABLE bindings (
  id text PRIMARY KEY,
  agent_id text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
  name text NOT NULL,
  binding_type text NOT NULL,
  config_json text NOT NULL,
  guardrails_json text NOT NULL,
  vault_id text NOT NULL,
  path text NOT NULL,
  is_active boolean NOT NULL,
  created_by text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  UNIQUE (agent_id, name)
);
CREATE TABLE executions (
  ord bigint GENERATED ALWAYS AS IDENTITY,
  id text PRIMARY KEY,
  agent_id text NOT NULL,
  binding_id text NOT NULL,
  binding_name text NOT NULL,
  intent_type text NOT NULL,
  mode text NOT NULL,
  status text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  upstream_status integer NOT NULL,
  secret_version bigint NOT NULL,
  duration_ms bigint NOT NULL,
  request_bytes bigint NOT NULL,
  response_bytes bigint NOT NULL,
  redactions bigint NOT NULL,
  error_message text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX executions_agent_created ON executions (agent_id, created_at);
CREATE TABLE use_counters (
  key text NOT NULL,
  window_start bigint NOT NULL,
  window_end bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX use_counters_window_end ON use_counters (window_end);
)sql";

// Pepper rotation: each stored HMAC names the pepper chain that made it (crypto/keyring.h); the
// rows of before were all made under the active pepper.
constexpr std::string_view kPepperChains = R"sql(
ALTER TABLE credentials ADD COLUMN pepper_ids text NOT NULL DEFAULT '';
ALTER TABLE shares ADD COLUMN pepper_ids text NOT NULL DEFAULT '';
UPDATE credentials SET pepper_ids = COALESCE((SELECT MAX(id)::text FROM keys
  WHERE purpose = 'hmac-pepper' AND active), '');
UPDATE shares SET pepper_ids = COALESCE((SELECT MAX(id)::text FROM keys
  WHERE purpose = 'hmac-pepper' AND active), '');
)sql";

// Dashboard sessions (store/session_store.h): the SHA-256 of the cookie, never the cookie.
constexpr std::string_view kUiSessions = R"sql(
CREATE TABLE ui_sessions (
  token_hash text PRIMARY KEY,
  user_id text NOT NULL,
  credential_id text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
)sql";

constexpr PgMigration kMigrations[] = {
    {1, "initial schema: secrets, identities, audit chain, rate limits", kInitialSchema},
    {2, "change_generation: the counter behind the servers' change feed", kChangeGeneration},
    {3, "audit events count the requests they summarise", kAuditRequestCount},
    {4, "vault names are unique without regard to case", kUniqueVaultNames, MakeVaultNamesUnique},
    {5, "agents can be deactivated and reactivated", kAgentDeactivation},
    {6, "audit events are found by path", kAuditPathIndex},
    {7, "share links of secrets", kShares},
    {8, "policies: effect, priority, time window and client network conditions",
     kPolicyEffectAndConditions},
    {9, "rotation schedules and announced expiry events", kRotationSchedules},
    {10, "version lifecycle: aliases, destroyed versions, kept-version limits",
     kVersionLifecycleSchema},
    {11, "webhooks: endpoints, delivery outbox, dispatch cursor", kWebhookOutbox},
    {12, "usage: last reads of versions and secrets, agents' last use; key grace windows",
     kUsageAndKeyGrace},
    {13, "gateway: audit details, bindings, executions, use counters", kGateway},
    {14, "pepper rotation: stored HMACs name their pepper chain", kPepperChains},
    {15, "dashboard sessions", kUiSessions},
};

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)";

StatusOr<int64_t> RecordedVersion(PgConnection& conn) {
  ASSIGN_OR_RETURN(PgResult r,
                   conn.Exec("SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations"));
  return r.rows() > 0 ? r.Int(0, 0) : 0;
}

// Applies `m` in a transaction unless already recorded, adding its data step's notes to
// `notes`.
Status ApplyOne(PgConnection& conn, const PgMigration& m, int64_t known, MigrationNotes& notes) {
  ASSIGN_OR_RETURN(const int64_t recorded, RecordedVersion(conn));
  ASSIGN_OR_RETURN(const MigrationStep step, NextMigrationStep(recorded, m.version, known));
  if (step == MigrationStep::kSkip) {
    return OkStatus();
  }
  RETURN_IF_ERROR(conn.ExecScript("BEGIN"));
  Status s = m.data_step != nullptr ? m.data_step(conn, notes) : OkStatus();
  if (s.ok()) {
    s = conn.ExecScript(m.sql);
  }
  if (s.ok()) {
    s = conn.Run(
        "INSERT INTO schema_migrations (version, name, applied_at)"
        " VALUES ($1, $2, now())",
        PgParams().Int(m.version).Text(m.name));
  }
  if (s.ok()) {
    s = conn.ExecScript("COMMIT");
  }
  if (!s.ok() && conn.InTransaction()) {
    // The failure that led here is what the caller gets; a failed ROLLBACK adds nothing to it.
    (void)conn.ExecScript("ROLLBACK");
  }
  return s;
}

}  // namespace

std::span<const PgMigration> PgMigrations() { return kMigrations; }

Status ApplyPgMigrations(PgConnection& conn, std::span<const PgMigration> migrations,
                         const MigrationNotice& notice) {
  RETURN_IF_ERROR(conn.Run("SELECT pg_advisory_lock($1)", PgParams().Int(kPgMigrationLockKey)));
  Status status = conn.ExecScript(kCreateMigrationsTable);
  const int64_t known = migrations.empty() ? 0 : migrations.back().version;
  if (status.ok() && migrations.empty()) {
    auto recorded = RecordedVersion(conn);
    status = recorded.has_value() ? OkStatus() : recorded.error();
  }
  for (const PgMigration& m : migrations) {
    if (!status.ok()) {
      break;
    }
    MigrationNotes notes;
    status = ApplyOne(conn, m, known, notes);
    if (status.ok() && notice) {
      for (const std::string& note : notes) {
        notice(fmt::format("store migration {}: {}", m.version, note));
      }
    }
  }
  const Status unlocked =
      conn.Run("SELECT pg_advisory_unlock($1)", PgParams().Int(kPgMigrationLockKey));
  return status.ok() ? unlocked : status;
}

}  // namespace coffer
