// ObservedStore: forwards every Store call, timing it and noting refused rate-limit hits and
// audit events that could not be written.
#include "store/observed_store.h"

#include <utility>

#include "common/non_blocking.h"

namespace coffer {

namespace {

StatusCode CodeOf(const Status& s) { return s.code(); }
template <typename T>
StatusCode CodeOf(const StatusOr<T>& s) {
  return s.has_value() ? StatusCode::kOk : s.error().code();
}

// Codes that mean the store could not do its job, as opposed to the operation's own answer
// (not found, already exists, a lost compare-and-swap).
bool IsStoreFailure(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kInternal ||
         code == StatusCode::kDataLoss || code == StatusCode::kUnknown;
}

class ObservedStore final : public Store {
 public:
  ObservedStore(Store& inner, StoreObserver& observer, const MonotonicClock& clock)
      : inner_(inner), observer_(observer), clock_(clock) {}

  // Runs `call` and reports it (Report).
  template <typename Call>
  auto Timed(std::string_view operation, const AuditEvent* audit, Call&& call) {
    const MonotonicTime start = clock_.Now();
    auto result = call();
    if (NonBlockingScope::Refused()) {
      return result;  // an attempt thrown away (it would have waited), not a store failure
    }
    Report(operation, audit, clock_.Now() - start, CodeOf(result));
    return result;
  }

  // Reports a call's duration and outcome, and a failed audit write when `audit` (the event the
  // call was to make durable) is set and the call failed for a store reason.
  void Report(std::string_view operation, const AuditEvent* audit, std::chrono::nanoseconds elapsed,
              StatusCode code) {
    const bool ok = code == StatusCode::kOk;
    observer_.OnStoreCall(operation, elapsed, ok);
    // An appended event that did not land is a failure whatever the reason; a mutation that
    // carried one failed to record it only when the store itself failed.
    if (audit != nullptr && !ok && (operation == "AppendAudit" || IsStoreFailure(code))) {
      observer_.OnAuditWriteFailed();
    }
  }

  StatusOr<std::vector<WrappedKey>> LoadKeys() override {
    return Timed("LoadKeys", nullptr, [&] { return inner_.LoadKeys(); });
  }
  Status InsertKey(const WrappedKey& key) override {
    return Timed("InsertKey", nullptr, [&] { return inner_.InsertKey(key); });
  }
  StatusOr<std::vector<StoredCiphertext>> ListCiphertextsNotUnderKey(
      uint32_t key_id, std::string_view after_secret_id, int64_t after_version,
      size_t limit) override {
    return Timed("ListCiphertextsNotUnderKey", nullptr, [&] {
      return inner_.ListCiphertextsNotUnderKey(key_id, after_secret_id, after_version, limit);
    });
  }
  StatusOr<int64_t> SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) override {
    return Timed("SwapCiphertexts", nullptr, [&] { return inner_.SwapCiphertexts(swaps); });
  }
  StatusOr<std::vector<StoredWebhookSecret>> ListWebhookSecretsNotUnderKey(
      uint32_t key_id, std::string_view after_webhook_id, size_t limit) override {
    return Timed("ListWebhookSecretsNotUnderKey", nullptr, [&] {
      return inner_.ListWebhookSecretsNotUnderKey(key_id, after_webhook_id, limit);
    });
  }
  StatusOr<int64_t> SwapWebhookSecrets(const std::vector<WebhookSecretSwap>& swaps) override {
    return Timed("SwapWebhookSecrets", nullptr, [&] { return inner_.SwapWebhookSecrets(swaps); });
  }
  StatusOr<std::map<int64_t, int64_t>> CountCiphertextsByKey() override {
    return Timed("CountCiphertextsByKey", nullptr, [&] { return inner_.CountCiphertextsByKey(); });
  }
  Status ReplaceKeyWrapping(uint32_t id, const std::vector<uint8_t>& expected,
                            const std::vector<uint8_t>& wrapped) override {
    return Timed("ReplaceKeyWrapping", nullptr,
                 [&] { return inner_.ReplaceKeyWrapping(id, expected, wrapped); });
  }
  Status DeleteDataKey(uint32_t id) override {
    return Timed("DeleteDataKey", nullptr, [&] { return inner_.DeleteDataKey(id); });
  }
  Status DeleteInactiveKey(uint32_t id, std::string_view purpose) override {
    return Timed("DeleteInactiveKey", nullptr,
                 [&] { return inner_.DeleteInactiveKey(id, purpose); });
  }
  Status ReplacePepperHash(PepperHashKind kind, std::string_view id,
                           const std::vector<uint8_t>& expected, const std::vector<uint8_t>& hmac,
                           const std::vector<uint32_t>& pepper_ids) override {
    return Timed("ReplacePepperHash", nullptr,
                 [&] { return inner_.ReplacePepperHash(kind, id, expected, hmac, pepper_ids); });
  }
  StatusOr<std::vector<PepperHash>> ListPepperHashes(PepperHashKind kind, std::string_view after_id,
                                                     size_t limit) override {
    return Timed("ListPepperHashes", nullptr,
                 [&] { return inner_.ListPepperHashes(kind, after_id, limit); });
  }
  StatusOr<std::vector<PepperHashCount>> CountPepperHashes(UnixMicros now) override {
    return Timed("CountPepperHashes", nullptr, [&] { return inner_.CountPepperHashes(now); });
  }
  Status InsertUser(const User& user, const AuditEvent* audit) override {
    return Timed("InsertUser", audit, [&] { return inner_.InsertUser(user, audit); });
  }
  StatusOr<std::vector<User>> ListUsers() override {
    return Timed("ListUsers", nullptr, [&] { return inner_.ListUsers(); });
  }
  StatusOr<User> GetUser(std::string_view id) override {
    return Timed("GetUser", nullptr, [&] { return inner_.GetUser(id); });
  }
  Status InsertCredential(const Credential& credential, const AuditEvent* audit) override {
    return Timed("InsertCredential", audit,
                 [&] { return inner_.InsertCredential(credential, audit); });
  }
  StatusOr<Credential> GetCredential(std::string_view public_id) override {
    return Timed("GetCredential", nullptr, [&] { return inner_.GetCredential(public_id); });
  }
  StatusOr<std::vector<Credential>> ListCredentials(PrincipalKind kind,
                                                    std::string_view principal_id) override {
    return Timed("ListCredentials", nullptr,
                 [&] { return inner_.ListCredentials(kind, principal_id); });
  }
  Status RevokeCredential(std::string_view public_id, UnixMicros at,
                          const AuditEvent* audit) override {
    return Timed("RevokeCredential", audit,
                 [&] { return inner_.RevokeCredential(public_id, at, audit); });
  }
  Status InsertAgent(const Agent& agent, const std::vector<Credential>& credentials,
                     const AuditEvent* audit) override {
    return Timed("InsertAgent", audit,
                 [&] { return inner_.InsertAgent(agent, credentials, audit); });
  }
  StatusOr<Agent> GetAgent(std::string_view agent_id) override {
    return Timed("GetAgent", nullptr, [&] { return inner_.GetAgent(agent_id); });
  }
  StatusOr<std::vector<Agent>> ListAgents(std::optional<std::string_view> owner_id) override {
    return Timed("ListAgents", nullptr, [&] { return inner_.ListAgents(owner_id); });
  }
  Status UpdateAgent(std::string_view agent_id, const AgentUpdate& update, UnixMicros at,
                     const AuditEvent* audit) override {
    return Timed("UpdateAgent", audit,
                 [&] { return inner_.UpdateAgent(agent_id, update, at, audit); });
  }
  Status RevokeAgent(std::string_view agent_id, UnixMicros at, const AuditEvent* audit) override {
    return Timed("RevokeAgent", audit, [&] { return inner_.RevokeAgent(agent_id, at, audit); });
  }
  Status ReplaceAgentCredentials(std::string_view agent_id,
                                 const std::vector<std::string>& expected_active,
                                 const std::vector<Credential>& fresh, UnixMicros at,
                                 const AuditEvent* audit) override {
    return Timed("ReplaceAgentCredentials", audit, [&] {
      return inner_.ReplaceAgentCredentials(agent_id, expected_active, fresh, at, audit);
    });
  }
  Status InsertPolicy(const Policy& policy, const AuditEvent* audit) override {
    return Timed("InsertPolicy", audit, [&] { return inner_.InsertPolicy(policy, audit); });
  }
  StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id) override {
    return Timed("GetPolicy", nullptr, [&] { return inner_.GetPolicy(vault_id, policy_id); });
  }
  StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id) override {
    return Timed("ListPolicies", nullptr, [&] { return inner_.ListPolicies(vault_id); });
  }
  StatusOr<std::vector<Policy>> ListPoliciesForPrincipal(PrincipalKind kind,
                                                         std::string_view principal_id) override {
    return Timed("ListPoliciesForPrincipal", nullptr,
                 [&] { return inner_.ListPoliciesForPrincipal(kind, principal_id); });
  }
  Status DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                      const AuditEvent* audit) override {
    return Timed("DeletePolicy", audit,
                 [&] { return inner_.DeletePolicy(vault_id, policy_id, audit); });
  }
  Status UpdatePolicy(const Policy& policy, const AuditEvent* audit) override {
    return Timed("UpdatePolicy", audit, [&] { return inner_.UpdatePolicy(policy, audit); });
  }
  StatusOr<AuditEvent> AppendAudit(const AuditEvent& event) override {
    return Timed("AppendAudit", &event, [&] { return inner_.AppendAudit(event); });
  }
  void AppendAuditAsync(std::shared_ptr<const AuditEvent> event,
                        std::function<void(Status)> done) override {
    const MonotonicTime start = clock_.Now();
    inner_.AppendAuditAsync(event, [this, start, event, done = std::move(done)](Status s) {
      Report("AppendAudit", event.get(), clock_.Now() - start, s.code());
      done(std::move(s));
    });
  }
  StatusOr<std::vector<AuditEvent>> ListAudit(const AuditQuery& query) override {
    return Timed("ListAudit", nullptr, [&] { return inner_.ListAudit(query); });
  }
  Status ScanAudit(const std::function<bool(const AuditEvent&)>& visit) override {
    return Timed("ScanAudit", nullptr, [&] { return inner_.ScanAudit(visit); });
  }
  StatusOr<RateLimitDecision> HitRateLimit(std::string_view key, UnixMicros window, int64_t limit,
                                           UnixMicros now) override {
    auto decision = Timed("HitRateLimit", nullptr,
                          [&] { return inner_.HitRateLimit(key, window, limit, now); });
    if (decision.has_value() && !decision->allowed) {
      observer_.OnRateLimitRefused(key.substr(0, key.find(':')));
    }
    return decision;
  }
  Status InsertVault(const Vault& vault, const AuditEvent* audit) override {
    return Timed("InsertVault", audit, [&] { return inner_.InsertVault(vault, audit); });
  }
  StatusOr<Vault> GetVault(std::string_view vault_id) override {
    return Timed("GetVault", nullptr, [&] { return inner_.GetVault(vault_id); });
  }
  StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) override {
    return Timed("ListVaults", nullptr, [&] { return inner_.ListVaults(owner_id); });
  }
  Status DeleteVault(std::string_view vault_id, const AuditEvent* audit) override {
    return Timed("DeleteVault", audit, [&] { return inner_.DeleteVault(vault_id, audit); });
  }
  Status SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions,
                             const AuditEvent* audit) override {
    return Timed("SetVaultMaxVersions", audit,
                 [&] { return inner_.SetVaultMaxVersions(vault_id, max_versions, audit); });
  }
  StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& version,
                                           const SealFunction& seal,
                                           const AuditEvent* audit) override {
    return Timed("PutSecretVersion", audit,
                 [&] { return inner_.PutSecretVersion(version, seal, audit); });
  }
  StatusOr<SecretVersion> GetSecretVersion(std::string_view vault_id, std::string_view path,
                                           VersionSelector selector) override {
    return Timed("GetSecretVersion", nullptr,
                 [&] { return inner_.GetSecretVersion(vault_id, path, selector); });
  }
  StatusOr<std::vector<SecretVersion>> ListSecretVersions(std::string_view vault_id,
                                                          std::string_view path) override {
    return Timed("ListSecretVersions", nullptr,
                 [&] { return inner_.ListSecretVersions(vault_id, path); });
  }
  StatusOr<SecretListPage> ListSecrets(std::string_view vault_id, std::string_view prefix,
                                       std::string_view after, size_t limit) override {
    return Timed("ListSecrets", nullptr,
                 [&] { return inner_.ListSecrets(vault_id, prefix, after, limit); });
  }
  Status DeleteSecret(std::string_view vault_id, std::string_view path,
                      const AuditEvent* audit) override {
    return Timed("DeleteSecret", audit, [&] { return inner_.DeleteSecret(vault_id, path, audit); });
  }
  StatusOr<SecretVersion> DisableSecretVersion(std::string_view vault_id, std::string_view path,
                                               int64_t version, UnixMicros at,
                                               const AuditEvent* audit) override {
    return Timed("DisableSecretVersion", audit,
                 [&] { return inner_.DisableSecretVersion(vault_id, path, version, at, audit); });
  }
  StatusOr<SecretVersion> DestroySecretVersion(std::string_view vault_id, std::string_view path,
                                               int64_t version, UnixMicros at,
                                               const AuditEvent* audit) override {
    return Timed("DestroySecretVersion", audit,
                 [&] { return inner_.DestroySecretVersion(vault_id, path, version, at, audit); });
  }
  StatusOr<std::map<std::string, int64_t>> SetSecretAlias(std::string_view vault_id,
                                                          std::string_view path,
                                                          std::string_view alias, int64_t version,
                                                          const AuditEvent* audit) override {
    return Timed("SetSecretAlias", audit,
                 [&] { return inner_.SetSecretAlias(vault_id, path, alias, version, audit); });
  }
  StatusOr<std::map<std::string, int64_t>> DeleteSecretAlias(std::string_view vault_id,
                                                             std::string_view path,
                                                             std::string_view alias,
                                                             const AuditEvent* audit) override {
    return Timed("DeleteSecretAlias", audit,
                 [&] { return inner_.DeleteSecretAlias(vault_id, path, alias, audit); });
  }
  StatusOr<std::map<std::string, int64_t>> PromoteSecret(std::string_view vault_id,
                                                         std::string_view path,
                                                         const AuditEvent* audit) override {
    return Timed("PromoteSecret", audit,
                 [&] { return inner_.PromoteSecret(vault_id, path, audit); });
  }
  StatusOr<std::map<std::string, int64_t>> RollbackSecret(std::string_view vault_id,
                                                          std::string_view path,
                                                          const AuditEvent* audit) override {
    return Timed("RollbackSecret", audit,
                 [&] { return inner_.RollbackSecret(vault_id, path, audit); });
  }
  StatusOr<SecretVersion> GetSecretVersionById(std::string_view secret_id,
                                               VersionSelector selector) override {
    return Timed("GetSecretVersionById", nullptr,
                 [&] { return inner_.GetSecretVersionById(secret_id, selector); });
  }
  Status InsertShare(const Share& share, const AuditEvent* audit) override {
    return Timed("InsertShare", audit, [&] { return inner_.InsertShare(share, audit); });
  }
  StatusOr<Share> GetShareByToken(const std::vector<uint8_t>& token_hmac) override {
    return Timed("GetShareByToken", nullptr, [&] { return inner_.GetShareByToken(token_hmac); });
  }
  StatusOr<Share> GetShare(std::string_view id) override {
    return Timed("GetShare", nullptr, [&] { return inner_.GetShare(id); });
  }
  StatusOr<std::vector<Share>> ListSharesByCreator(std::string_view created_by) override {
    return Timed("ListSharesByCreator", nullptr,
                 [&] { return inner_.ListSharesByCreator(created_by); });
  }
  Status RevokeShare(std::string_view id, UnixMicros at, const AuditEvent* audit) override {
    return Timed("RevokeShare", audit, [&] { return inner_.RevokeShare(id, at, audit); });
  }
  StatusOr<int64_t> ConsumeShareAccess(std::string_view id, UnixMicros now,
                                       const AuditEvent* audit) override {
    return Timed("ConsumeShareAccess", audit,
                 [&] { return inner_.ConsumeShareAccess(id, now, audit); });
  }
  Status RotateWithGrace(const GraceRotation& rotation, const AuditEvent* audit) override {
    return Timed("RotateWithGrace", audit, [&] { return inner_.RotateWithGrace(rotation, audit); });
  }
  StatusOr<std::optional<Credential>> NextEndedGrace(UnixMicros now) override {
    return Timed("NextEndedGrace", nullptr, [&] { return inner_.NextEndedGrace(now); });
  }
  Status EndKeyGrace(std::string_view public_id, UnixMicros now, const AuditEvent* audit) override {
    return Timed("EndKeyGrace", audit, [&] { return inner_.EndKeyGrace(public_id, now, audit); });
  }
  Status ApplyUsage(const UsageBatch& batch) override {
    return Timed("ApplyUsage", nullptr, [&] { return inner_.ApplyUsage(batch); });
  }
  StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version,
                                        const AuditEvent* audit) override {
    return Timed("ConsumeSecretAccess", audit,
                 [&] { return inner_.ConsumeSecretAccess(secret_id, version, audit); });
  }

  StatusOr<SecretSchedule> SetSecretSchedule(std::string_view vault_id, std::string_view path,
                                             std::string_view policy_json, UnixMicros next_at,
                                             const AuditEvent* audit) override {
    return Timed("SetSecretSchedule", audit, [&] {
      return inner_.SetSecretSchedule(vault_id, path, policy_json, next_at, audit);
    });
  }
  Status DeleteSecretSchedule(std::string_view vault_id, std::string_view path,
                              const AuditEvent* audit) override {
    return Timed("DeleteSecretSchedule", audit,
                 [&] { return inner_.DeleteSecretSchedule(vault_id, path, audit); });
  }
  StatusOr<std::optional<SecretSchedule>> GetSecretSchedule(std::string_view vault_id,
                                                            std::string_view path) override {
    return Timed("GetSecretSchedule", nullptr,
                 [&] { return inner_.GetSecretSchedule(vault_id, path); });
  }
  StatusOr<std::vector<SecretSchedule>> ListDueSchedules(UnixMicros now, size_t limit) override {
    return Timed("ListDueSchedules", nullptr, [&] { return inner_.ListDueSchedules(now, limit); });
  }
  Status AdvanceSecretSchedule(const ScheduleClaim& claim, const AuditEvent* audit) override {
    return Timed("AdvanceSecretSchedule", audit,
                 [&] { return inner_.AdvanceSecretSchedule(claim, audit); });
  }
  Status DisableScheduledVersion(std::string_view secret_id, int64_t version, UnixMicros disable_at,
                                 UnixMicros at, const AuditEvent* audit) override {
    return Timed("DisableScheduledVersion", audit, [&] {
      return inner_.DisableScheduledVersion(secret_id, version, disable_at, at, audit);
    });
  }
  StatusOr<std::vector<SecretVersion>> ListUnannouncedExpiries(ExpiryEvent event,
                                                               UnixMicros expires_by,
                                                               size_t limit) override {
    return Timed("ListUnannouncedExpiries", nullptr,
                 [&] { return inner_.ListUnannouncedExpiries(event, expires_by, limit); });
  }
  Status MarkExpiryAnnounced(std::string_view secret_id, int64_t version, ExpiryEvent event,
                             const AuditEvent* audit) override {
    return Timed("MarkExpiryAnnounced", audit,
                 [&] { return inner_.MarkExpiryAnnounced(secret_id, version, event, audit); });
  }

  Status InsertWebhook(const WebhookEndpoint& endpoint, const AuditEvent* audit) override {
    return Timed("InsertWebhook", audit, [&] { return inner_.InsertWebhook(endpoint, audit); });
  }
  StatusOr<WebhookEndpoint> GetWebhook(std::string_view vault_id, std::string_view id) override {
    return Timed("GetWebhook", nullptr, [&] { return inner_.GetWebhook(vault_id, id); });
  }
  StatusOr<std::vector<WebhookEndpoint>> ListWebhooks(
      std::optional<std::string_view> vault_id) override {
    return Timed("ListWebhooks", nullptr, [&] { return inner_.ListWebhooks(vault_id); });
  }
  Status DeleteWebhook(std::string_view vault_id, std::string_view id,
                       const AuditEvent* audit) override {
    return Timed("DeleteWebhook", audit, [&] { return inner_.DeleteWebhook(vault_id, id, audit); });
  }
  StatusOr<int64_t> GetWebhookCursor() override {
    return Timed("GetWebhookCursor", nullptr, [&] { return inner_.GetWebhookCursor(); });
  }
  Status EnqueueWebhookDeliveries(const std::vector<WebhookDelivery>& deliveries,
                                  std::optional<int64_t> cursor_from, int64_t cursor_to,
                                  const AuditEvent* audit) override {
    return Timed("EnqueueWebhookDeliveries", audit, [&] {
      return inner_.EnqueueWebhookDeliveries(deliveries, cursor_from, cursor_to, audit);
    });
  }
  StatusOr<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(std::string_view owner,
                                                                UnixMicros now,
                                                                UnixMicros lease_until,
                                                                size_t limit) override {
    return Timed("ClaimWebhookDeliveries", nullptr,
                 [&] { return inner_.ClaimWebhookDeliveries(owner, now, lease_until, limit); });
  }
  Status FinishWebhookAttempt(const WebhookAttempt& attempt) override {
    return Timed("FinishWebhookAttempt", nullptr,
                 [&] { return inner_.FinishWebhookAttempt(attempt); });
  }
  StatusOr<std::vector<WebhookDelivery>> ListWebhookDeliveries(std::string_view webhook_id,
                                                               size_t limit) override {
    return Timed("ListWebhookDeliveries", nullptr,
                 [&] { return inner_.ListWebhookDeliveries(webhook_id, limit); });
  }

  Status InsertUiSession(const UiSession& session, const AuditEvent* audit) override {
    return Timed("InsertUiSession", audit, [&] { return inner_.InsertUiSession(session, audit); });
  }
  StatusOr<UiSession> GetUiSession(std::string_view token_hash) override {
    return Timed("GetUiSession", nullptr, [&] { return inner_.GetUiSession(token_hash); });
  }
  Status DeleteUiSession(std::string_view token_hash, const AuditEvent* audit) override {
    return Timed("DeleteUiSession", audit,
                 [&] { return inner_.DeleteUiSession(token_hash, audit); });
  }
  Status InsertBinding(const Binding& b, const AuditEvent* audit) override {
    return Timed("InsertBinding", audit, [&] { return inner_.InsertBinding(b, audit); });
  }
  StatusOr<Binding> GetBinding(std::string_view binding_id) override {
    return Timed("GetBinding", nullptr, [&] { return inner_.GetBinding(binding_id); });
  }
  StatusOr<Binding> FindBinding(std::string_view agent_id, std::string_view id_or_name) override {
    return Timed("FindBinding", nullptr, [&] { return inner_.FindBinding(agent_id, id_or_name); });
  }
  StatusOr<std::vector<Binding>> ListBindings(std::string_view agent_id) override {
    return Timed("ListBindings", nullptr, [&] { return inner_.ListBindings(agent_id); });
  }
  Status UpdateBinding(const Binding& b, const AuditEvent* audit) override {
    return Timed("UpdateBinding", audit, [&] { return inner_.UpdateBinding(b, audit); });
  }
  Status DeleteBinding(std::string_view binding_id, const AuditEvent* audit) override {
    return Timed("DeleteBinding", audit, [&] { return inner_.DeleteBinding(binding_id, audit); });
  }
  Status InsertExecution(const ExecutionRecord& e, const AuditEvent* audit) override {
    return Timed("InsertExecution", audit, [&] { return inner_.InsertExecution(e, audit); });
  }
  void InsertExecutionAsync(std::shared_ptr<const ExecutionRecord> e,
                            std::shared_ptr<const AuditEvent> audit,
                            std::function<void(Status)> done) override {
    const MonotonicTime start = clock_.Now();
    inner_.InsertExecutionAsync(e, audit, [this, start, audit, done = std::move(done)](Status s) {
      Report("InsertExecution", audit.get(), clock_.Now() - start, s.code());
      done(std::move(s));
    });
  }

  StatusOr<std::vector<ExecutionRecord>> ListExecutions(std::string_view agent_id, size_t limit,
                                                        size_t offset) override {
    return Timed("ListExecutions", nullptr,
                 [&] { return inner_.ListExecutions(agent_id, limit, offset); });
  }
  StatusOr<UseDecision> CountUse(std::span<const UseCounter> counters) override {
    return Timed("CountUse", nullptr, [&] { return inner_.CountUse(counters); });
  }

  Status ImportSecretVersion(const SecretVersion& version) override {
    return Timed("ImportSecretVersion", nullptr,
                 [&] { return inner_.ImportSecretVersion(version); });
  }
  Status ImportSecretAlias(std::string_view secret_id, std::string_view alias,
                           int64_t version) override {
    return Timed("ImportSecretAlias", nullptr,
                 [&] { return inner_.ImportSecretAlias(secret_id, alias, version); });
  }
  // Not timed: the feed is the backend's, reached without a store call.
  ChangeFeed& Changes() override { return inner_.Changes(); }

 private:
  Store& inner_;
  StoreObserver& observer_;
  const MonotonicClock& clock_;
};

}  // namespace

std::unique_ptr<Store> NewObservedStore(Store& inner, StoreObserver& observer,
                                        const MonotonicClock& clock) {
  return std::make_unique<ObservedStore>(inner, observer, clock);
}

}  // namespace coffer
