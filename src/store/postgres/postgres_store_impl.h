// PostgresStoreImpl, the PostgresStore that PostgresStore::Open returns: its members and the
// Read/Write helpers every method runs on. Internal to src/store/postgres: only the postgres_*.cc
// files here include it, each defining the methods of one section of store.h.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "store/postgres/pg_audit_chain.h"
#include "store/postgres/pg_change_listener.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_pool.h"
#include "store/postgres/postgres_rows.h"
#include "store/postgres/postgres_store.h"

namespace coffer::postgres_internal {

class PostgresStoreImpl final : public PostgresStore {
 public:
  // `clock` is the change feed's; `random` draws the ids of new secrets.
  PostgresStoreImpl(std::unique_ptr<PgPool> pool, PostgresStoreOptions::RuleClock rate_limit_clock,
                    const MonotonicClock& clock, Random& random);

  // Starts following what other processes change (PostgresStoreOptions::follow_changes).
  void FollowChanges(std::string conninfo, PgChangeListenerOptions options);

  ChangeFeed& Changes() override { return changes_; }
  StatusOr<UnixMicros> DatabaseNow() override;

  // --- keyring (postgres_keys.cc) ------------------------------------------------------------
  StatusOr<std::vector<WrappedKey>> LoadKeys() override;
  Status InsertKey(const WrappedKey& key) override;

  // --- data key rotation (postgres_keys.cc) --------------------------------------------------
  StatusOr<std::vector<StoredCiphertext>> ListCiphertextsNotUnderKey(
      uint32_t key_id, std::string_view after_secret_id, int64_t after_version,
      size_t limit) override;
  StatusOr<int64_t> SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) override;
  StatusOr<std::vector<StoredWebhookSecret>> ListWebhookSecretsNotUnderKey(
      uint32_t key_id, std::string_view after_webhook_id, size_t limit) override;
  StatusOr<int64_t> SwapWebhookSecrets(const std::vector<WebhookSecretSwap>& swaps) override;
  StatusOr<std::map<int64_t, int64_t>> CountCiphertextsByKey() override;
  Status DeleteDataKey(uint32_t id) override;
  Status ReplaceKeyWrapping(uint32_t id, const std::vector<uint8_t>& expected,
                            const std::vector<uint8_t>& wrapped) override;
  Status DeleteInactiveKey(uint32_t id, std::string_view purpose) override;
  Status ReplacePepperHash(PepperHashKind kind, std::string_view id,
                           const std::vector<uint8_t>& expected, const std::vector<uint8_t>& hmac,
                           const std::vector<uint32_t>& pepper_ids) override;
  StatusOr<std::vector<PepperHash>> ListPepperHashes(PepperHashKind kind, std::string_view after_id,
                                                     size_t limit) override;
  StatusOr<std::vector<PepperHashCount>> CountPepperHashes(UnixMicros now) override;

  // --- users and credentials (postgres_identity.cc) ------------------------------------------
  Status InsertUser(const User& user, const AuditEvent* audit) override;
  StatusOr<std::vector<User>> ListUsers() override;
  StatusOr<User> GetUser(std::string_view id) override;
  Status InsertCredential(const Credential& c, const AuditEvent* audit) override;
  StatusOr<Credential> GetCredential(std::string_view public_id) override;
  StatusOr<std::vector<Credential>> ListCredentials(PrincipalKind kind,
                                                    std::string_view principal_id) override;
  Status RevokeCredential(std::string_view public_id, UnixMicros at,
                          const AuditEvent* audit) override;

  // --- agents (postgres_identity.cc) ---------------------------------------------------------
  Status InsertAgent(const Agent& agent, const std::vector<Credential>& credentials,
                     const AuditEvent* audit) override;
  StatusOr<Agent> GetAgent(std::string_view agent_id) override;
  StatusOr<std::vector<Agent>> ListAgents(std::optional<std::string_view> owner_id) override;
  Status UpdateAgent(std::string_view agent_id, const AgentUpdate& update, UnixMicros at,
                     const AuditEvent* audit) override;
  Status RevokeAgent(std::string_view agent_id, UnixMicros at, const AuditEvent* audit) override;
  Status ReplaceAgentCredentials(std::string_view agent_id,
                                 const std::vector<std::string>& expected_active,
                                 const std::vector<Credential>& fresh, UnixMicros at,
                                 const AuditEvent* audit) override;

  // --- policies (postgres_identity.cc) -------------------------------------------------------
  Status InsertPolicy(const Policy& p, const AuditEvent* audit) override;
  StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id) override;
  StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id) override;
  StatusOr<std::vector<Policy>> ListPoliciesForPrincipal(PrincipalKind kind,
                                                         std::string_view principal_id) override;
  Status DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                      const AuditEvent* audit) override;
  Status UpdatePolicy(const Policy& policy, const AuditEvent* audit) override;

  // --- audit (postgres_audit.cc) -------------------------------------------------------------
  StatusOr<AuditEvent> AppendAudit(const AuditEvent& event) override;
  StatusOr<std::vector<AuditEvent>> ListAudit(const AuditQuery& query) override;
  Status ScanAudit(const std::function<bool(const AuditEvent&)>& visit) override;

  // --- rate limits (postgres_rate_limits.cc) -------------------------------------------------
  StatusOr<RateLimitDecision> HitRateLimit(std::string_view key, UnixMicros window, int64_t limit,
                                           UnixMicros now) override;

  // --- vaults (postgres_secrets.cc) ----------------------------------------------------------
  Status InsertVault(const Vault& vault, const AuditEvent* audit) override;
  StatusOr<Vault> GetVault(std::string_view vault_id) override;
  StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) override;
  Status DeleteVault(std::string_view vault_id, const AuditEvent* audit) override;

  // --- secrets (postgres_secrets.cc) ---------------------------------------------------------
  StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& in, const SealFunction& seal,
                                           const AuditEvent* audit) override;
  StatusOr<SecretVersion> GetSecretVersion(std::string_view vault_id, std::string_view path,
                                           VersionSelector selector) override;
  StatusOr<std::vector<SecretVersion>> ListSecretVersions(std::string_view vault_id,
                                                          std::string_view path) override;
  StatusOr<SecretListPage> ListSecrets(std::string_view vault_id, std::string_view prefix,
                                       std::string_view after, size_t limit) override;
  Status DeleteSecret(std::string_view vault_id, std::string_view path,
                      const AuditEvent* audit) override;
  // Destroy, aliases and retention (sqlite_versions.cc / postgres_versions.cc).
  Status SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions,
                             const AuditEvent* audit) override;
  StatusOr<SecretVersion> DestroySecretVersion(std::string_view vault_id, std::string_view path,
                                               int64_t version, UnixMicros at,
                                               const AuditEvent* audit) override;
  StatusOr<std::map<std::string, int64_t>> SetSecretAlias(std::string_view vault_id,
                                                          std::string_view path,
                                                          std::string_view alias, int64_t version,
                                                          const AuditEvent* audit) override;
  StatusOr<std::map<std::string, int64_t>> DeleteSecretAlias(std::string_view vault_id,
                                                             std::string_view path,
                                                             std::string_view alias,
                                                             const AuditEvent* audit) override;
  StatusOr<std::map<std::string, int64_t>> PromoteSecret(std::string_view vault_id,
                                                         std::string_view path,
                                                         const AuditEvent* audit) override;
  StatusOr<std::map<std::string, int64_t>> RollbackSecret(std::string_view vault_id,
                                                          std::string_view path,
                                                          const AuditEvent* audit) override;
  Status ImportSecretAlias(std::string_view secret_id, std::string_view alias,
                           int64_t version) override;
  StatusOr<SecretVersion> DisableSecretVersion(std::string_view vault_id, std::string_view path,
                                               int64_t version, UnixMicros at,
                                               const AuditEvent* audit) override;
  StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version,
                                        const AuditEvent* audit) override;
  Status ApplyUsage(const UsageBatch& batch) override;
  // (postgres_key_grace.cc)
  Status RotateWithGrace(const GraceRotation& rotation, const AuditEvent* audit) override;
  StatusOr<std::optional<Credential>> NextEndedGrace(UnixMicros now) override;
  Status EndKeyGrace(std::string_view public_id, UnixMicros now,
                     const AuditEvent* audit) override;  // (postgres_usage.cc)

  // --- copying a store (postgres_secrets.cc) -------------------------------------------------
  StatusOr<SecretVersion> GetSecretVersionById(std::string_view secret_id,
                                               VersionSelector selector) override;

  // --- shares (postgres_shares.cc)
  // ------------------------------------------------------------------

  Status InsertShare(const Share& share, const AuditEvent* audit) override;
  StatusOr<Share> GetShareByToken(const std::vector<uint8_t>& token_hmac) override;
  StatusOr<Share> GetShare(std::string_view id) override;
  StatusOr<std::vector<Share>> ListSharesByCreator(std::string_view created_by) override;
  Status RevokeShare(std::string_view id, UnixMicros at, const AuditEvent* audit) override;
  StatusOr<int64_t> ConsumeShareAccess(std::string_view id, UnixMicros now,
                                       const AuditEvent* audit) override;

  Status ImportSecretVersion(const SecretVersion& v) override;

  // --- rotation schedules (postgres_schedules.cc) ---------------------------------------------

  StatusOr<SecretSchedule> SetSecretSchedule(std::string_view vault_id, std::string_view path,
                                             std::string_view policy_json, UnixMicros next_at,
                                             const AuditEvent* audit) override;
  Status DeleteSecretSchedule(std::string_view vault_id, std::string_view path,
                              const AuditEvent* audit) override;
  StatusOr<std::optional<SecretSchedule>> GetSecretSchedule(std::string_view vault_id,
                                                            std::string_view path) override;
  StatusOr<std::vector<SecretSchedule>> ListDueSchedules(UnixMicros now, size_t limit) override;
  Status AdvanceSecretSchedule(const ScheduleClaim& claim, const AuditEvent* audit) override;
  Status DisableScheduledVersion(std::string_view secret_id, int64_t version, UnixMicros disable_at,
                                 UnixMicros at, const AuditEvent* audit) override;
  StatusOr<std::vector<SecretVersion>> ListUnannouncedExpiries(ExpiryEvent event,
                                                               UnixMicros expires_by,
                                                               size_t limit) override;
  Status MarkExpiryAnnounced(std::string_view secret_id, int64_t version, ExpiryEvent event,
                             const AuditEvent* audit) override;

  // --- webhooks (postgres_webhooks.cc) -------------------------------------------------------

  Status InsertWebhook(const WebhookEndpoint& endpoint, const AuditEvent* audit) override;
  StatusOr<WebhookEndpoint> GetWebhook(std::string_view vault_id, std::string_view id) override;
  StatusOr<std::vector<WebhookEndpoint>> ListWebhooks(
      std::optional<std::string_view> vault_id) override;
  Status DeleteWebhook(std::string_view vault_id, std::string_view id,
                       const AuditEvent* audit) override;
  StatusOr<int64_t> GetWebhookCursor() override;
  Status EnqueueWebhookDeliveries(const std::vector<WebhookDelivery>& deliveries,
                                  std::optional<int64_t> cursor_from, int64_t cursor_to,
                                  const AuditEvent* audit) override;
  StatusOr<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(std::string_view owner,
                                                                UnixMicros now,
                                                                UnixMicros lease_until,
                                                                size_t limit) override;
  Status FinishWebhookAttempt(const WebhookAttempt& attempt) override;
  StatusOr<std::vector<WebhookDelivery>> ListWebhookDeliveries(std::string_view webhook_id,
                                                               size_t limit) override;

  // --- gateway bindings, executions and use counters (postgres_bindings.cc) ------------------
  Status InsertBinding(const Binding& b, const AuditEvent* audit) override;
  StatusOr<Binding> GetBinding(std::string_view binding_id) override;
  StatusOr<Binding> FindBinding(std::string_view agent_id, std::string_view id_or_name) override;
  StatusOr<std::vector<Binding>> ListBindings(std::string_view agent_id) override;
  Status UpdateBinding(const Binding& b, const AuditEvent* audit) override;
  Status DeleteBinding(std::string_view binding_id, const AuditEvent* audit) override;
  Status InsertExecution(const ExecutionRecord& e, const AuditEvent* audit) override;
  StatusOr<std::vector<ExecutionRecord>> ListExecutions(std::string_view agent_id, size_t limit,
                                                        size_t offset) override;
  StatusOr<UseDecision> CountUse(std::span<const UseCounter> counters) override;

  // --- dashboard sessions (postgres_sessions.cc) ---
  Status InsertUiSession(const UiSession& session, const AuditEvent* audit) override;
  StatusOr<UiSession> GetUiSession(std::string_view token_hash) override;
  Status DeleteUiSession(std::string_view token_hash, const AuditEvent* audit) override;

 private:
  // What a write runs inside its transaction: the connection, and the copy of the audit event
  // (nullptr for none) that it may complete with what only the row knows.
  using WriteBody = std::function<Status(PgConnection&, AuditEvent*)>;

  // The row of `columns_sql` (a SELECT … FROM table) whose id is `id`; kNotFound `not_found`.
  template <typename T>
  StatusOr<T> GetById(std::string_view columns_sql, std::string_view id, std::string_view not_found,
                      T (*read)(const PgResult&, int));

  // Every row of `columns_sql`, or those of `owner_id`, in creation order.
  template <typename T>
  StatusOr<std::vector<T>> ListByOwner(std::string_view columns_sql,
                                       std::optional<std::string_view> owner_id,
                                       T (*read)(const PgResult&, int));

  // The rows of `columns_sql` that name principal (`kind`, `principal_id`), in creation order.
  template <typename T>
  StatusOr<std::vector<T>> ListByPrincipal(std::string_view columns_sql, PrincipalKind kind,
                                           std::string_view principal_id,
                                           StatusOr<T> (*read)(const PgResult&, int));

  // Runs `body(conn)` on a pooled connection, outside any transaction (each statement commits
  // on its own).
  template <typename Body>
  auto Read(Body body) -> std::invoke_result_t<Body, PgConnection&>;

  // Write, for a mutation of something the layers above may keep in memory: the same
  // transaction counts the change and announces it to every listening server (NOTIFY, sent at
  // commit, see pg_change_listener.h); once the call is over it is published to this process's
  // feed, whatever the outcome (a COMMIT that failed may still have happened).
  Status WriteChange(const StoreChange& change, const AuditEvent* audit, const WriteBody& body);

  // Runs `body(conn, event)` in a transaction and then, when `audit` is given, appends `event`
  // (a copy that `body` may complete with what only the row knows) in the same transaction:
  // both commit or neither. Retried from the start as RunPgTransaction says.
  Status Write(const AuditEvent* audit, const WriteBody& body);

  std::unique_ptr<PgPool> pool_;
  const PostgresStoreOptions::RuleClock rate_limit_clock_;
  Random& random_;
  PgAuditBatcher batcher_;  // standalone appends (AppendAudit)
  ChangeFeed changes_;
  std::unique_ptr<PgChangeListener> listener_;  // after changes_, which it publishes to
  std::atomic<uint64_t> use_calls_{0};  // CountUse calls, for sweeping ended windows now and then
};

// Helpers of the secret writes, on the caller's connection (postgres_versions.cc); as SQLite's
// (sqlite_store_impl.h).
StatusOr<std::map<std::string, int64_t>> LoadAliases(PgConnection& conn,
                                                     std::string_view secret_id);
StatusOr<std::optional<int64_t>> LatestEnabledVersion(PgConnection& conn,
                                                      std::string_view secret_id);
Status MoveAliasesForWrite(PgConnection& conn, std::string_view secret_id, int64_t version,
                           bool stage_pending, std::optional<int64_t> readable_before);
Status DestroyVersionRow(PgConnection& conn, std::string_view secret_id, int64_t version,
                         UnixMicros at);
StatusOr<std::vector<int64_t>> ApplyRetention(PgConnection& conn, std::string_view secret_id,
                                              UnixMicros at);

// The templates, here because every concern's file instantiates them.

template <typename T>
StatusOr<T> PostgresStoreImpl::GetById(std::string_view columns_sql, std::string_view id,
                                       std::string_view not_found,
                                       T (*read)(const PgResult&, int)) {
  return Read([&](PgConnection& conn) -> StatusOr<T> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(columns_sql) + " WHERE id = $1", PgParams().Text(id)));
    if (r.rows() == 0) {
      return Err(NotFoundError(std::string(not_found)));
    }
    return read(r, 0);
  });
}

template <typename T>
StatusOr<std::vector<T>> PostgresStoreImpl::ListByOwner(std::string_view columns_sql,
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

template <typename T>
StatusOr<std::vector<T>> PostgresStoreImpl::ListByPrincipal(
    std::string_view columns_sql, PrincipalKind kind, std::string_view principal_id,
    StatusOr<T> (*read)(const PgResult&, int)) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<T>> {
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec(std::string(columns_sql) + " WHERE principal_kind = $1 AND principal_id = $2"
                                             " ORDER BY created_at, ord",
                  PgParams().Text(PrincipalKindName(kind)).Text(principal_id)));
    return ReadAll<T>(r, read);
  });
}

template <typename Body>
auto PostgresStoreImpl::Read(Body body) -> std::invoke_result_t<Body, PgConnection&> {
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

// Takes a scheduler's claim inside PutSecretVersion's transaction, once `header` (the version
// about to be written) is known: kAborted unless it holds for header's secret.
// (postgres_schedules.cc)
Status TakeScheduleClaim(PgConnection& conn, const ScheduleClaim& claim,
                         const SecretVersion& header);

}  // namespace coffer::postgres_internal
