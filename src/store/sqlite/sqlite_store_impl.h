// SqliteStoreImpl, the SqliteStore that SqliteStore::Open returns. Its methods are defined by
// concern, in the order of store.h: sqlite_keys.cc, sqlite_identity.cc, sqlite_audit.cc,
// sqlite_rate_limits.cc, sqlite_secrets.cc, and sqlite_store.cc for the rest. Internal to them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "store/change_feed.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_audit_log.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/sqlite_reader_pool.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace coffer::sqlite_store_internal {

// The body of a write operation: runs statements on the writer connection, and may complete
// `event` (the operation's audit event, nullptr when it has none) with what only the row knows.
using WriteBody = std::function<Status(SqliteConnection& db, AuditEvent* event)>;

// Reads run on a leased read-only connection; writes are bodies handed to the group-commit
// writer, which runs them in a shared transaction, each followed by its audit event when it has
// one.
class SqliteStoreImpl final : public SqliteStore {
 public:
  // `audit_chain` is the one the writer's rollback listener forgets; `random` draws the ids of
  // new secrets.
  SqliteStoreImpl(std::unique_ptr<SqliteAuditChain> audit_chain,
                  std::unique_ptr<GroupCommitWriter> writer,
                  std::unique_ptr<SqliteReaderPool> readers, Random& random);
  ~SqliteStoreImpl() override;

  SqliteStoreStats Stats() const override;

  // --- keyring and data key rotation (sqlite_keys.cc) --------------------------------------

  StatusOr<std::vector<WrappedKey>> LoadKeys() override;
  Status InsertKey(const WrappedKey& key) override;
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

  // --- users, credentials, agents and policies (sqlite_identity.cc) ------------------------

  Status InsertUser(const User& user, const AuditEvent* audit) override;
  StatusOr<std::vector<User>> ListUsers() override;
  StatusOr<User> GetUser(std::string_view id) override;
  Status InsertCredential(const Credential& c, const AuditEvent* audit) override;
  StatusOr<Credential> GetCredential(std::string_view public_id) override;
  StatusOr<std::vector<Credential>> ListCredentials(PrincipalKind kind,
                                                    std::string_view principal_id) override;
  Status RevokeCredential(std::string_view public_id, UnixMicros at,
                          const AuditEvent* audit) override;

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

  Status InsertPolicy(const Policy& p, const AuditEvent* audit) override;
  StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id) override;
  StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id) override;
  StatusOr<std::vector<Policy>> ListPoliciesForPrincipal(PrincipalKind kind,
                                                         std::string_view principal_id) override;
  Status DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                      const AuditEvent* audit) override;
  Status UpdatePolicy(const Policy& policy, const AuditEvent* audit) override;

  // --- audit (sqlite_audit.cc) -------------------------------------------------------------

  StatusOr<AuditEvent> AppendAudit(const AuditEvent& event) override;
  void AppendAuditAsync(std::shared_ptr<const AuditEvent> event,
                        std::function<void(Status)> done) override;
  StatusOr<std::vector<AuditEvent>> ListAudit(const AuditQuery& query) override;
  Status ScanAudit(const std::function<bool(const AuditEvent&)>& visit) override;

  // --- rate limits (sqlite_rate_limits.cc) -------------------------------------------------

  StatusOr<RateLimitDecision> HitRateLimit(std::string_view key, UnixMicros window, int64_t limit,
                                           UnixMicros now) override;

  // --- vaults, secrets and copying a store (sqlite_secrets.cc) -----------------------------

  Status InsertVault(const Vault& vault, const AuditEvent* audit) override;
  StatusOr<Vault> GetVault(std::string_view vault_id) override;
  StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) override;
  Status DeleteVault(std::string_view vault_id, const AuditEvent* audit) override;

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
  // (sqlite_key_grace.cc)
  Status RotateWithGrace(const GraceRotation& rotation, const AuditEvent* audit) override;
  StatusOr<std::optional<Credential>> NextEndedGrace(UnixMicros now) override;
  Status EndKeyGrace(std::string_view public_id, UnixMicros now,
                     const AuditEvent* audit) override;  // (sqlite_usage.cc)

  StatusOr<SecretVersion> GetSecretVersionById(std::string_view secret_id,
                                               VersionSelector selector) override;

  // --- shares (sqlite_shares.cc)
  // ------------------------------------------------------------------

  Status InsertShare(const Share& share, const AuditEvent* audit) override;
  StatusOr<Share> GetShareByToken(const std::vector<uint8_t>& token_hmac) override;
  StatusOr<Share> GetShare(std::string_view id) override;
  StatusOr<std::vector<Share>> ListSharesByCreator(std::string_view created_by) override;
  Status RevokeShare(std::string_view id, UnixMicros at, const AuditEvent* audit) override;
  StatusOr<int64_t> ConsumeShareAccess(std::string_view id, UnixMicros now,
                                       const AuditEvent* audit) override;

  Status ImportSecretVersion(const SecretVersion& v) override;

  // --- rotation schedules (sqlite_schedules.cc) ---------------------------------------------

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

  // --- webhooks (sqlite_webhooks.cc) -------------------------------------------------------

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

  // --- gateway bindings, executions and use counters (sqlite_bindings.cc) -------------------

  Status InsertBinding(const Binding& b, const AuditEvent* audit) override;
  StatusOr<Binding> GetBinding(std::string_view binding_id) override;
  StatusOr<Binding> FindBinding(std::string_view agent_id, std::string_view id_or_name) override;
  StatusOr<std::vector<Binding>> ListBindings(std::string_view agent_id) override;
  Status UpdateBinding(const Binding& b, const AuditEvent* audit) override;
  Status DeleteBinding(std::string_view binding_id, const AuditEvent* audit) override;
  Status InsertExecution(const ExecutionRecord& e, const AuditEvent* audit) override;
  void InsertExecutionAsync(std::shared_ptr<const ExecutionRecord> e,
                            std::shared_ptr<const AuditEvent> audit,
                            std::function<void(Status)> done) override;
  StatusOr<std::vector<ExecutionRecord>> ListExecutions(std::string_view agent_id, size_t limit,
                                                        size_t offset) override;
  StatusOr<UseDecision> CountUse(std::span<const UseCounter> counters) override;

  // --- dashboard sessions (sqlite_sessions.cc) ---
  Status InsertUiSession(const UiSession& session, const AuditEvent* audit) override;
  StatusOr<UiSession> GetUiSession(std::string_view token_hash) override;
  Status DeleteUiSession(std::string_view token_hash, const AuditEvent* audit) override;

  // --- changes -----------------------------------------------------------------------------

  // Only this process writes what the feed is about (`coffer keys` beside a server changes the
  // keyring and ciphertexts; a second server is refused, see sqlite_store_lock.h).
  ChangeFeed& Changes() override { return changes_; }

 private:
  // Runs `body(db, event)` as one write operation and then, when `audit` is given, appends
  // `event` (a copy of it that `body` may complete with what only the row knows) to the audit
  // chain in the same operation: both are kept or neither is. The appended event, with its
  // seq and hashes, goes to `*appended` when that is not null. (sqlite_audit.cc)
  Status Write(const AuditEvent* audit, const WriteBody& body, AuditEvent* appended = nullptr,
               Durability durability = Durability::kSynced);

  // Write's operation, on the writer thread. (sqlite_audit.cc)
  Status WriteInOp(SqliteConnection& db, const AuditEvent* audit, const WriteBody& body,
                   AuditEvent* appended = nullptr);

  // Write, for a mutation of something the layers above may keep in memory: `change` is
  // published once the write is over, whatever its outcome. (sqlite_store.cc)
  Status WriteChange(const StoreChange& change, const AuditEvent* audit, const WriteBody& body);

  Random& random_;
  // Declared first so it is destroyed last; used only on the writer thread (write operations
  // and the writer's rollback listener).
  const std::unique_ptr<SqliteAuditChain> audit_chain_;
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<SqliteReaderPool> readers_;
  ChangeFeed changes_{ChangeFeed::Writers::kThisProcess};
  std::atomic<uint64_t> use_calls_{0};  // CountUse calls, for sweeping ended windows now and then
};

// Takes a scheduler's claim inside PutSecretVersion's write, once `header` (the version about to
// be written) is known: kAborted unless it holds for header's secret. (sqlite_schedules.cc)
Status TakeScheduleClaim(SqliteConnection& db, const ScheduleClaim& claim,
                         const SecretVersion& header);
// Helpers of the secret writes, on a connection of the caller's (sqlite_versions.cc).
// The id of the secret at (vault, path). kNotFound "secret not found".
StatusOr<std::string> SecretIdAt(SqliteConnection& db, std::string_view vault_id,
                                 std::string_view path);
// The secret's aliases and the versions they name.
StatusOr<std::map<std::string, int64_t>> LoadAliases(SqliteConnection& db,
                                                     std::string_view secret_id);
// The newest version that is not disabled, if any.
StatusOr<std::optional<int64_t>> LatestEnabledVersion(SqliteConnection& db,
                                                      std::string_view secret_id);
// Moves the aliases for a new `version` as NewSecretVersion::stage_pending says;
// `readable_before` is what LatestEnabledVersion said before the version was inserted.
Status MoveAliasesForWrite(SqliteConnection& db, std::string_view secret_id, int64_t version,
                           bool stage_pending, std::optional<int64_t> readable_before);
// Erases the version's ciphertext, sets destroyed_at and disabled_at (keeping earlier times) and
// removes the aliases naming it. kNotFound.
Status DestroyVersionRow(SqliteConnection& db, std::string_view secret_id, int64_t version,
                         UnixMicros at);
// Destroys what the kept-version limit no longer allows (store.h, PutSecretVersion); returns
// the versions destroyed, ascending.
StatusOr<std::vector<int64_t>> ApplyRetention(SqliteConnection& db, std::string_view secret_id,
                                              UnixMicros at);

}  // namespace coffer::sqlite_store_internal
