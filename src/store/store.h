// Store: the persistence interface every backend implements (SQLite embedded, PostgreSQL).
// It knows rows, not rules: the service layer decides what may be read or written; the store
// makes each call atomic and durable. Every method is safe for concurrent use, and every write
// is durable (fsynced or equivalent) before it returns OK.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "model/binding.h"
#include "model/identity.h"
#include "model/secret.h"
#include "model/share.h"
#include "model/webhook.h"
#include "store/change_feed.h"
#include "store/session_store.h"

namespace coffer {

// Which version of a secret a read resolves to.
// What UpdateAgent changes; nullopt leaves a field as it is.
struct AgentUpdate {
  std::optional<std::string> name;
  std::optional<std::string> description;
  // false: sets deactivated_at (keeping an earlier time); true: clears it.
  std::optional<bool> is_active;
};

// kCurrent: the version the alias `current` names when it is set, else kLatestEnabled's.
// kAlias: the version the alias `alias` names.
struct VersionSelector {
  enum class Kind : uint8_t { kLatestEnabled, kLatestAny, kExact, kCurrent, kAlias };
  Kind kind = Kind::kLatestEnabled;
  int64_t version = 0;  // for kExact
  std::string alias;    // for kAlias

  static VersionSelector LatestEnabled() { return {Kind::kLatestEnabled, 0, {}}; }
  static VersionSelector LatestAny() { return {Kind::kLatestAny, 0, {}}; }
  static VersionSelector Exact(int64_t v) { return {Kind::kExact, v, {}}; }
  static VersionSelector Current() { return {Kind::kCurrent, 0, {}}; }
  static VersionSelector Alias(std::string name) { return {Kind::kAlias, 0, std::move(name)}; }
};

// A secret's rotation schedule: its policy (a JSON object, see service/rotation_policy.h), the
// next time it is due, and a previous version waiting to be disabled after a rotation's grace.
struct SecretSchedule {
  std::string secret_id;
  std::string vault_id;
  std::string path;
  std::string policy_json;
  UnixMicros next_rotation_at = 0;
  int64_t disable_version = 0;  // 0: none waiting
  UnixMicros disable_at = 0;    // when disable_version is due (meaningful when it is not 0)
};

// A scheduler's claim of one due time: it holds only while the secret's schedule still has
// next_rotation_at == due_at; taking it sets next_rotation_at = next_at, so of any number of
// claims of one due time (on any server) exactly one succeeds. With disable_previous_at set, a
// rotation also marks the version it supersedes to be disabled at that time.
struct ScheduleClaim {
  std::string secret_id;
  UnixMicros due_at = 0;
  UnixMicros next_at = 0;
  std::optional<UnixMicros> disable_previous_at;
};

// The time-driven events of a version, each announced once (a bit each in the store).
enum class ExpiryEvent : uint8_t { kExpiring = 1, kExpired = 2 };

// The aliases every secret may have besides its users' own names.
inline constexpr std::string_view kAliasCurrent = "current";
inline constexpr std::string_view kAliasPending = "pending";
inline constexpr std::string_view kAliasPrevious = "previous";

// What a new version carries besides the value. secret_id/version are assigned by the store.
struct NewSecretVersion {
  std::string vault_id;
  std::string path;
  SecretType type = SecretType::kPassword;
  std::string metadata_json = "{}";
  std::string rotation_policy_json;
  std::optional<UnixMicros> expires_at;
  int64_t max_access_count = 0;
  UnixMicros created_at = 0;
  std::string created_by;
  // A version the rotation scheduler writes: written only if the claim still holds, and the
  // claim is taken in the same transaction (see ScheduleClaim). Empty for every other write.
  std::optional<ScheduleClaim> schedule_claim;
  // Check-and-set: when set, the write happens only if the secret's latest version is this
  // number at the moment of writing (0: only if no secret exists at the path). Checked inside
  // the write transaction, so of concurrent writers expecting one version exactly one wins.
  std::optional<int64_t> expected_latest;
  // false: when the alias `current` is set it moves to the new version and the version it named
  // becomes `previous`. true: the new version becomes `pending` (and when `current` is not set,
  // it is set to the version plain reads returned until now, if any), `current` stays.
  bool stage_pending = false;
  // When set, becomes the secret's own limit of kept versions (0: none of its own).
  std::optional<int64_t> max_versions;
};

// Called inside the write transaction once the secret id and version number are known, so the
// ciphertext can be bound to them. `header` has every field but `ciphertext` filled in.
using SealFunction = std::function<StatusOr<std::vector<uint8_t>>(const SecretVersion& header)>;

// Reads of one version counted in memory since the last flush (service/usage_recorder.h).
struct VersionReads {
  std::string secret_id;
  int64_t version = 0;
  int64_t reads = 0;  // >= 0; added to access_count only where max_access_count is 0
  UnixMicros last_read_at = 0;
  std::string last_read_by;  // principal id of the read at last_read_at
};

// An agent's latest authenticated use seen since the last flush.
struct AgentUse {
  std::string agent_id;
  UnixMicros last_used_at = 0;
};

// What ApplyUsage adds in one transaction.
struct UsageBatch {
  std::vector<VersionReads> reads;
  std::vector<AgentUse> agents;
  bool empty() const { return reads.empty() && agents.empty(); }
};

// A rotation of credentials that lets the old API keys work a while (a grace window).
struct GraceRotation {
  PrincipalKind principal_kind = PrincipalKind::kAgent;
  std::string principal_id;
  // A user's rotation names the one API key it replaces; an agent's leaves it empty and retires
  // every unrevoked credential of the agent (its API keys and its rotation secret).
  std::string old_key_id;
  std::vector<Credential> fresh;  // inserted; each names the principal
  UnixMicros at = 0;              // now: a retired rotation secret stops at once
  UnixMicros keys_until = 0;      // >= at: when the retired API keys stop working
};

struct SecretListPage {
  std::vector<SecretSummary> secrets;  // ordered by path; latest version of each, no ciphertext
  std::string next_after;              // non-empty when more remain: pass as `after`
};

// Every mutating method takes an optional audit event (nullptr for none). When given, it is
// appended to the audit chain in the same transaction as the mutation: if either fails, neither
// happens (fail closed). The store assigns the event's seq, prev_hash and hash; for
// PutSecretVersion and ConsumeSecretAccess it also fills in `version` (and for PutSecretVersion
// `vault_id` and `path`) from the row written.
struct AuditQuery {
  std::string vault_id;  // empty: any
  // Empty: any. Else events whose AuditEventResource(e).id is this (model/identity.h): a
  // secret event's path or a vault event's vault id.
  std::string resource_id;
  std::string actor_id;             // empty: any
  std::string action;               // empty: any
  std::optional<UnixMicros> since;  // at >= since
  std::optional<UnixMicros> until;  // at < until
  int64_t after_seq = 0;            // seq > after_seq (pagination)
  bool newest_first = false;        // order by seq descending instead of ascending
  size_t offset = 0;                // skip this many matching events (in the order above)
  size_t limit = 100;               // at most this many events; 0: no limit
};

struct RateLimitDecision {
  bool allowed = false;
  UnixMicros retry_after = 0;  // when refused: how long until a hit would be allowed
};

// A fixed-window counter of CountUse: at most `limit` uses of `key` in [window_start, window_end).
struct UseCounter {
  std::string key;
  UnixMicros window_start = 0;
  UnixMicros window_end = 0;
  int64_t limit = 0;
  int64_t amount = 1;  // how many uses to count at once (a gateway server leases a block)
};

// CountUse's answer: allowed (every counter counted one more), or refused because counter
// `refused_index` is full until `retry_at` (its window's end).
struct UseDecision {
  bool allowed = false;
  size_t refused_index = 0;
  UnixMicros retry_at = 0;
};

// One stored version's ciphertext and what binds it to its row (for re-encryption).
struct StoredCiphertext {
  std::string vault_id;
  std::string secret_id;
  std::string path;
  int64_t version = 0;
  std::vector<uint8_t> ciphertext;
};

// Replace one version's ciphertext, only if it still is `expected`.
struct CiphertextSwap {
  std::string secret_id;
  int64_t version = 0;
  std::vector<uint8_t> expected;
  std::vector<uint8_t> replacement;
};

// One webhook endpoint's sealed signing secret and what binds it to its row (for re-encryption;
// the associated data is service/webhook_service.h's WebhookSecretAad(vault_id, webhook_id)).
struct StoredWebhookSecret {
  std::string vault_id;
  std::string webhook_id;
  std::vector<uint8_t> sealed_secret;
};

// Replace one endpoint's sealed secret, only if it still is `expected`.
struct WebhookSecretSwap {
  std::string webhook_id;
  std::vector<uint8_t> expected;
  std::vector<uint8_t> replacement;
};

// Key of CountCiphertextsByKey for blobs too short to name a data key.
inline constexpr int64_t kUnreadableKeyId = -1;

// The 4 bytes by which a blob names its data key (big endian, after the format byte), as the
// stores compare them in SQL.
inline std::vector<uint8_t> KeyIdBytes(uint32_t id) {
  return {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
          static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
}

// The key id those 4 bytes name, or kUnreadableKeyId when there are not 4.
inline int64_t KeyIdOf(const std::vector<uint8_t>& bytes) {
  if (bytes.size() != 4) {
    return kUnreadableKeyId;
  }
  return (int64_t{bytes[0]} << 24) | (int64_t{bytes[1]} << 16) | (int64_t{bytes[2]} << 8) |
         int64_t{bytes[3]};
}

// A stored HMAC under the pepper (pepper rotation): a credential's secret or a share link's
// token, by the credential's public id or the share's id.
enum class PepperHashKind : uint8_t { kCredential, kShare };
struct PepperHash {
  PepperHashKind kind = PepperHashKind::kCredential;
  std::string id;
  std::vector<uint8_t> hmac;
  std::vector<uint32_t> pepper_ids;
};
// How many stored HMACs of `kind` were made under the pepper chain `pepper_ids`.
struct PepperHashCount {
  PepperHashKind kind = PepperHashKind::kCredential;
  std::vector<uint32_t> pepper_ids;
  int64_t count = 0;
};

// The message of DeleteDataKey's kFailedPrecondition for a key still in use.
inline std::string DataKeyInUse(uint32_t id, int64_t versions, int64_t webhook_secrets) {
  std::string what = std::to_string(versions) + " secret versions";
  if (webhook_secrets > 0) {
    what += " and " + std::to_string(webhook_secrets) + " webhook signing secrets";
  }
  return what + " are still encrypted under data key " + std::to_string(id) +
         "; run coffer keys reencrypt";
}

// The message of RevokeCredential's kFailedPrecondition for the last admin API key.
inline constexpr std::string_view kLastAdminKey =
    "this is the last active API key of an admin: create another admin API key first (with "
    "none left, only `coffer admin recover` on the server can restore admin access)";

// The message of InsertVault's kAlreadyExists for a name that is taken. It names no other vault.
inline std::string VaultNameTaken(std::string_view name) {
  return "a vault named '" + std::string(name) +
         "' already exists (vault names are unique, compared without regard to case)";
}

class Store : public SessionStore {  // dashboard sessions: store/session_store.h
 public:
  ~Store() override = default;

  // --- keyring -------------------------------------------------------------------------------
  // Every wrapped key, ordered by id.
  virtual StatusOr<std::vector<WrappedKey>> LoadKeys() = 0;
  // kAlreadyExists if the id is taken. When `key.active`, other keys of its purpose become
  // inactive in the same transaction.
  virtual Status InsertKey(const WrappedKey& key) = 0;
  // Compare-and-swap of one key's sealed form (coffer keys migrate-root: the same key sealed by
  // another root key): `wrapped` replaces it only where it still equals `expected`. kNotFound
  // when there is no key `id`; kAborted when its sealed form changed meanwhile.
  virtual Status ReplaceKeyWrapping(uint32_t id, const std::vector<uint8_t>& expected,
                                    const std::vector<uint8_t>& wrapped) = 0;

  // --- data key rotation (coffer keys) -------------------------------------------------------
  // A blob names its data key in bytes 1..4 (big endian; see crypto/aead.h); the store reads
  // only those bytes, never decrypts. Destroyed versions (no ciphertext left) are not listed,
  // counted or swapped, and hold no data key in use.
  // Up to `limit` (>= 1) versions whose ciphertext does not name data key `key_id` (blobs too
  // short to name a key included), ordered by (secret_id, version), strictly after
  // (after_secret_id, after_version); pass "" and 0 to start.
  virtual StatusOr<std::vector<StoredCiphertext>> ListCiphertextsNotUnderKey(
      uint32_t key_id, std::string_view after_secret_id, int64_t after_version, size_t limit) = 0;
  // Compare-and-swap of ciphertexts, all in one transaction: each row's ciphertext becomes
  // `replacement` only where it still equals `expected`; nothing else in the row changes.
  // Returns how many rows were replaced (a row changed or deleted meanwhile is skipped).
  virtual StatusOr<int64_t> SwapCiphertexts(const std::vector<CiphertextSwap>& swaps) = 0;
  // Webhook endpoints' sealed signing secrets are sealed under data keys too: up to `limit`
  // (>= 1) of them whose blob does not name data key `key_id` (too short ones included),
  // ordered by webhook id, strictly after `after_webhook_id` ("" to start).
  virtual StatusOr<std::vector<StoredWebhookSecret>> ListWebhookSecretsNotUnderKey(
      uint32_t key_id, std::string_view after_webhook_id, size_t limit) = 0;
  // As SwapCiphertexts, for webhook secrets: all in one transaction, each endpoint's
  // sealed_secret becomes `replacement` only where it still equals `expected`; returns how many
  // were replaced (an endpoint deleted or changed meanwhile is skipped).
  virtual StatusOr<int64_t> SwapWebhookSecrets(const std::vector<WebhookSecretSwap>& swaps) = 0;
  // How many blobs name each data key id (kUnreadableKeyId: blobs too short to name one):
  // versions and webhook endpoints' sealed secrets together.
  virtual StatusOr<std::map<int64_t, int64_t>> CountCiphertextsByKey() = 0;
  // Deletes data key `id`, atomically checking that it is inactive and that no version and no
  // webhook secret names it. kNotFound when there is no data key `id`; kFailedPrecondition when
  // it is active or still in use (the message says how many versions and webhook secrets).
  virtual Status DeleteDataKey(uint32_t id) = 0;
  // Deletes key `id` of `purpose` (not "data": see DeleteDataKey) if it is inactive. kNotFound
  // when there is no such key; kFailedPrecondition when it is active.
  virtual Status DeleteInactiveKey(uint32_t id, std::string_view purpose) = 0;
  // Pepper rotation. Replaces the HMAC of the credential or share `id` with `hmac` made under
  // `pepper_ids`, if the stored HMAC is still `expected` (a server rehashing on use, or
  // `coffer keys rewrap-pepper`, racing another). kAborted when it changed meanwhile; kNotFound
  // when there is no such row. Publishes kCredential for a credential.
  virtual Status ReplacePepperHash(PepperHashKind kind, std::string_view id,
                                   const std::vector<uint8_t>& expected,
                                   const std::vector<uint8_t>& hmac,
                                   const std::vector<uint32_t>& pepper_ids) = 0;
  // Up to `limit` stored HMACs of `kind` with an id after `after_id`, ordered by id.
  virtual StatusOr<std::vector<PepperHash>> ListPepperHashes(PepperHashKind kind,
                                                             std::string_view after_id,
                                                             size_t limit) = 0;
  // How many stored HMACs that can still be presented at `now` each pepper chain has made, per
  // kind (ordered by kind, then chain): credentials not revoked by `now` (a grace window counts),
  // share links neither revoked nor expired.
  virtual StatusOr<std::vector<PepperHashCount>> CountPepperHashes(UnixMicros now) = 0;

  // --- users and credentials -----------------------------------------------------------------
  virtual Status InsertUser(const User& user, const AuditEvent* audit) = 0;  // kAlreadyExists: name
  virtual StatusOr<std::vector<User>> ListUsers() = 0;                       // ordered by creation
  virtual StatusOr<User> GetUser(std::string_view id) = 0;                   // kNotFound
  virtual Status InsertCredential(const Credential& credential, const AuditEvent* audit) = 0;
  virtual StatusOr<Credential> GetCredential(std::string_view public_id) = 0;  // kNotFound
  // Every credential of a principal (revoked ones too), ordered by creation.
  virtual StatusOr<std::vector<Credential>> ListCredentials(PrincipalKind kind,
                                                            std::string_view principal_id) = 0;
  // Sets revoked_at (the earliest revocation wins: revoking again is OK, and revoking a key in
  // its grace window ends the window now, without a grace-ended event). kNotFound. Never leaves the
  // deployment without a way in: kFailedPrecondition (kLastAdminKey's message) when the
  // credential is an unrevoked API key (kind "key") of an admin user and no other unrevoked API
  // key of any admin user exists. Of concurrent revocations of the last admin keys, all but one
  // are refused, whichever store process runs them.
  virtual Status RevokeCredential(std::string_view public_id, UnixMicros at,
                                  const AuditEvent* audit) = 0;

  // Credential rotation with a grace window, atomically: the retired API keys get revoked_at =
  // keys_until (a revocation in the future: they keep working until then) and, when keys_until
  // > at, a mark for NextEndedGrace; other retired credentials get revoked_at = at; `fresh` is
  // inserted. An API key in its grace counts as revoked for RevokeCredential's last-admin rule
  // (it is going away). Publishes kPrincipal for an agent, kCredential for a user's key.
  // kNotFound when the principal (an agent) or the key (of that user) does not exist;
  // kFailedPrecondition when the agent is revoked or the user's key is already revoked (or in
  // a grace window); kInvalidArgument when keys_until < at or a fresh credential does not name
  // the principal.
  virtual Status RotateWithGrace(const GraceRotation& rotation, const AuditEvent* audit) = 0;
  // A credential whose grace window has ended by `now` and whose end is not yet audited
  // (EndKeyGrace), or nullopt when there is none.
  virtual StatusOr<std::optional<Credential>> NextEndedGrace(UnixMicros now) = 0;
  // Clears `public_id`'s grace mark and appends `audit`, in one transaction, only while the mark
  // is set and its grace ended by `now`: kAborted otherwise (another server did it first, or
  // the key was revoked at once meanwhile). So each grace's end is audited exactly once, by one
  // of the servers sharing the store.
  virtual Status EndKeyGrace(std::string_view public_id, UnixMicros now,
                             const AuditEvent* audit) = 0;

  // --- agents --------------------------------------------------------------------------------
  // Inserts the agent together with its first credentials, atomically. kAlreadyExists when the
  // owner already has an agent of that name, or an id is taken; kInvalidArgument when a
  // credential does not name this agent as its principal.
  virtual Status InsertAgent(const Agent& agent, const std::vector<Credential>& credentials,
                             const AuditEvent* audit) = 0;
  virtual StatusOr<Agent> GetAgent(std::string_view agent_id) = 0;  // kNotFound
  // Every agent, or only those of `owner_id`; ordered by creation.
  virtual StatusOr<std::vector<Agent>> ListAgents(std::optional<std::string_view> owner_id) = 0;
  // Changes the agent's name, description and activation (deactivated_at = `at` when
  // deactivated, kept if it already was; cleared when activated), atomically, publishing
  // kPrincipal for the agent. Its credentials are untouched. kNotFound; kAlreadyExists when the
  // owner has another agent of the new name; kFailedPrecondition when the agent is revoked.
  virtual Status UpdateAgent(std::string_view agent_id, const AgentUpdate& update, UnixMicros at,
                             const AuditEvent* audit) = 0;
  // Sets the agent's revoked_at and revokes all its credentials. Idempotent: times already set
  // (the agent's, a credential's) are kept. kNotFound.
  virtual Status RevokeAgent(std::string_view agent_id, UnixMicros at, const AuditEvent* audit) = 0;
  // Rotation as one compare-and-swap: succeeds only if every public id in `expected_active` is
  // a credential of the agent that is still unrevoked and the agent is not revoked; then revokes
  // every unrevoked credential of the agent and inserts `fresh`. kAborted when the expectation no
  // longer holds (someone rotated first), kNotFound for an unknown agent, kFailedPrecondition
  // for a revoked agent, kInvalidArgument when a fresh credential does not name this agent. An
  // empty `expected_active` expects nothing (an unconditional rotation).
  virtual Status ReplaceAgentCredentials(std::string_view agent_id,
                                         const std::vector<std::string>& expected_active,
                                         const std::vector<Credential>& fresh, UnixMicros at,
                                         const AuditEvent* audit) = 0;

  // --- policies ------------------------------------------------------------------------------
  // kNotFound when the vault does not exist; kAlreadyExists when the id is taken. Deleting the
  // vault deletes its policies.
  virtual Status InsertPolicy(const Policy& policy, const AuditEvent* audit) = 0;
  // kNotFound when absent or in another vault.
  virtual StatusOr<Policy> GetPolicy(std::string_view vault_id, std::string_view policy_id) = 0;
  // Ordered by creation, as is ListPoliciesForPrincipal.
  virtual StatusOr<std::vector<Policy>> ListPolicies(std::string_view vault_id) = 0;
  // Every policy naming this principal, in any vault.
  virtual StatusOr<std::vector<Policy>> ListPoliciesForPrincipal(PrincipalKind kind,
                                                                 std::string_view principal_id) = 0;
  virtual Status DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                              const AuditEvent* audit) = 0;  // kNotFound
  // Replaces what an update may change — permissions, expires_at, effect, priority, conditions
  // and updated_at — of policy (policy.vault_id, policy.id), keeping its principal, pattern and
  // creation. kNotFound when absent or in another vault. The last of concurrent updates wins.
  virtual Status UpdatePolicy(const Policy& policy, const AuditEvent* audit) = 0;

  // --- audit ---------------------------------------------------------------------------------
  // Appends one event (durable on return) and returns it with seq and hashes filled in.
  virtual StatusOr<AuditEvent> AppendAudit(const AuditEvent& event) = 0;
  // Appends one event of a request that changed nothing (AppendAudit's durability for such an
  // event) without waiting: `done` gets the outcome AppendAudit would have had, once, on
  // whichever thread finishes the append — possibly the caller's, before this returns. `done`
  // must be quick, must not throw and must not call back into the store. The default appends
  // at once with AppendAudit.
  virtual void AppendAuditAsync(std::shared_ptr<const AuditEvent> event,
                                std::function<void(Status)> done) {
    auto appended = AppendAudit(*event);
    done(appended.has_value() ? OkStatus() : std::move(appended.error()));
  }
  // Events matching `query`, in seq order (descending when query.newest_first). Every filter
  // is answered from an index (seq, or one of vault_id/path/actor_id/action with seq, or at).
  virtual StatusOr<std::vector<AuditEvent>> ListAudit(const AuditQuery& query) = 0;
  // Calls `visit` for every event in seq order until it returns false. Reads a consistent
  // snapshot. `visit` must not call back into the store (it runs while a read connection and
  // its snapshot are held).
  virtual Status ScanAudit(const std::function<bool(const AuditEvent&)>& visit) = 0;

  // --- rate limits ---------------------------------------------------------------------------
  // Sliding-window limiter shared by everything using this store: counts the hits of `key`
  // stamped after now - window (a hit stamped after `now`, by a clock running ahead, counts
  // too); under `limit` it records this hit and allows it, otherwise it refuses without
  // recording and says when the oldest counted hit leaves the window. Durable. Hits of `key`
  // that left the window are deleted. kInvalidArgument when window <= 0 or limit < 1.
  virtual StatusOr<RateLimitDecision> HitRateLimit(std::string_view key, UnixMicros window,
                                                   int64_t limit, UnixMicros now) = 0;

  // --- vaults --------------------------------------------------------------------------------
  // kAlreadyExists (with VaultNameTaken's message) when any vault has that name, compared
  // without regard to ASCII case: of concurrent inserts of one name exactly one succeeds.
  virtual Status InsertVault(const Vault& vault, const AuditEvent* audit) = 0;
  virtual StatusOr<Vault> GetVault(std::string_view vault_id) = 0;  // kNotFound
  // Every vault, or only those of `owner_id`; ordered by creation time.
  virtual StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) = 0;
  // Deletes the vault with all its secrets and versions. kNotFound.
  virtual Status DeleteVault(std::string_view vault_id, const AuditEvent* audit) = 0;
  // Sets the vault's max_versions (0: no limit), publishing kVault. Versions beyond the new
  // limit go at each secret's next write. kNotFound; kInvalidArgument when negative.
  virtual Status SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions,
                                     const AuditEvent* audit) = 0;

  // --- secrets -------------------------------------------------------------------------------
  // Appends the next version (1 for a new path) of the secret at (vault, path), creating the
  // secret if needed. Versions are dense and unique under any concurrency. Moves the aliases as
  // version.stage_pending says. Then applies retention in the same transaction: the limit is the
  // smaller of the vault's and the secret's max_versions that are not 0; while more versions
  // than that are not destroyed, the oldest one that neither `current` nor `pending` names is
  // destroyed (as DestroySecretVersion does; an alias naming it is removed), and, when `audit`
  // is given, a copy of it with action secret.destroy_version and that version is appended for
  // each. Returns the stored version (with the secret's aliases) without ciphertext. kNotFound if
  // the vault does not exist; kFailedPrecondition with payload precondition_failed
  // (LatestVersionMismatch's message) when `version.expected_latest` is set and does not hold; any
  // error from `seal` aborts the write. With version.schedule_claim: kAborted (nothing written)
  // unless the claim holds for this very secret; else the claim is taken in the same transaction.
  virtual StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& version,
                                                   const SealFunction& seal,
                                                   const AuditEvent* audit) = 0;

  // The selected version with its ciphertext (empty when destroyed) and the secret's aliases.
  // kNotFound when there is no secret at the path, no such version, or (kAlias) the alias is not
  // set; kGone for kLatestEnabled and kCurrent when every version is disabled.
  virtual StatusOr<SecretVersion> GetSecretVersion(std::string_view vault_id, std::string_view path,
                                                   VersionSelector selector) = 0;

  // Every version, newest first, without ciphertext. kNotFound when there is no secret.
  virtual StatusOr<std::vector<SecretVersion>> ListSecretVersions(std::string_view vault_id,
                                                                  std::string_view path) = 0;

  // Secrets whose path starts with `prefix` (plain string prefix), ordered by path, after the
  // path `after` (exclusive, empty for the start), at most `limit` (0: no limit). Paths compare
  // bytewise, as memcmp does.
  virtual StatusOr<SecretListPage> ListSecrets(std::string_view vault_id, std::string_view prefix,
                                               std::string_view after, size_t limit) = 0;

  // Deletes the secret and all its versions. kNotFound.
  virtual Status DeleteSecret(std::string_view vault_id, std::string_view path,
                              const AuditEvent* audit) = 0;

  // Marks the version disabled at `at` (the row stays). Already disabled: OK, time unchanged.
  // Returns the version's metadata. kNotFound.
  virtual StatusOr<SecretVersion> DisableSecretVersion(std::string_view vault_id,
                                                       std::string_view path, int64_t version,
                                                       UnixMicros at, const AuditEvent* audit) = 0;

  // Crypto-shredding: erases the version's ciphertext for good (the row and its metadata stay),
  // sets destroyed_at = `at` and disabled_at (when not set), and removes any alias naming it.
  // Already destroyed: OK, time unchanged. Returns the version's metadata. kNotFound;
  // kFailedPrecondition when `current` or `pending` names it (move the alias first).
  virtual StatusOr<SecretVersion> DestroySecretVersion(std::string_view vault_id,
                                                       std::string_view path, int64_t version,
                                                       UnixMicros at, const AuditEvent* audit) = 0;

  // --- aliases -------------------------------------------------------------------------------
  // A secret's aliases go with it (DeleteSecret, DeleteVault). Each of these is one transaction
  // that takes the secret's row lock, so alias changes of one secret never interleave on any
  // server; each returns the secret's aliases afterwards, and fills in the audit event's
  // version with the version the changed alias names (0 when removed).
  // Points `alias` at `version` (creating or moving it). kNotFound for no secret or version;
  // kFailedPrecondition when the version is disabled or destroyed.
  virtual StatusOr<std::map<std::string, int64_t>> SetSecretAlias(std::string_view vault_id,
                                                                  std::string_view path,
                                                                  std::string_view alias,
                                                                  int64_t version,
                                                                  const AuditEvent* audit) = 0;
  // Removes `alias`. kNotFound for no secret, or when the alias is not set.
  virtual StatusOr<std::map<std::string, int64_t>> DeleteSecretAlias(std::string_view vault_id,
                                                                     std::string_view path,
                                                                     std::string_view alias,
                                                                     const AuditEvent* audit) = 0;
  // Promote: `pending` becomes `current`, the version `current` named (or, when it was not set,
  // the latest enabled version, if any and another) becomes `previous`, `pending` is removed.
  // Rollback, its inverse: `previous` becomes `current`, the version `current` named (or the
  // latest enabled one) becomes `pending`, `previous` is removed. kNotFound for no secret;
  // kFailedPrecondition when `pending` (`previous`) is not set, or names a disabled or
  // destroyed version: of two concurrent promotes of one pending version, one fails so.
  virtual StatusOr<std::map<std::string, int64_t>> PromoteSecret(std::string_view vault_id,
                                                                 std::string_view path,
                                                                 const AuditEvent* audit) = 0;
  virtual StatusOr<std::map<std::string, int64_t>> RollbackSecret(std::string_view vault_id,
                                                                  std::string_view path,
                                                                  const AuditEvent* audit) = 0;

  // Atomically counts one read of a version with a read limit: succeeds only while the
  // version is enabled and access_count < max_access_count, and the new count is durable
  // before this returns. Returns the new access_count; kGone when no read is left (or the
  // version was disabled meanwhile); kNotFound when the version no longer exists;
  // kFailedPrecondition when the version has no read limit (max_access_count 0).
  virtual StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version,
                                                const AuditEvent* audit) = 0;

  // Adds a batch of usage in one transaction, as increments, so the batches of several servers
  // add up: per version, access_count += reads where max_access_count is 0 (a version with a
  // read limit is counted by ConsumeSecretAccess alone), last_read_at = the later of the stored
  // and the given time, last_read_by the reader of that later time; per secret, read_count +=
  // reads and the same for its last read; per agent, last_used_at = the later time. Rows that
  // no longer exist are skipped. Durable on return; nothing is applied on error.
  virtual Status ApplyUsage(const UsageBatch& batch) = 0;

  // The selected version of the secret whose id is `secret_id`, with its ciphertext (as
  // GetSecretVersion). kNotFound when there is no such secret or version; kGone for
  // kLatestEnabled when every version is disabled.
  virtual StatusOr<SecretVersion> GetSecretVersionById(std::string_view secret_id,
                                                       VersionSelector selector) = 0;

  // --- rotation schedules (store/README.md: one row per scheduled secret) --------------------
  // Sets the schedule of the secret at (vault, path): its policy and next due time, replacing
  // any earlier ones (a previous version waiting to be disabled stays waiting). Returns the
  // schedule. kNotFound when there is no such secret.
  virtual StatusOr<SecretSchedule> SetSecretSchedule(std::string_view vault_id,
                                                     std::string_view path,
                                                     std::string_view policy_json,
                                                     UnixMicros next_rotation_at,
                                                     const AuditEvent* audit) = 0;
  // Removes the schedule of the secret (and any pending disable). OK when it had none;
  // kNotFound when there is no such secret. Deleting the secret removes it too.
  virtual Status DeleteSecretSchedule(std::string_view vault_id, std::string_view path,
                                      const AuditEvent* audit) = 0;
  // The secret's schedule; nullopt when it has none (or there is no such secret).
  virtual StatusOr<std::optional<SecretSchedule>> GetSecretSchedule(std::string_view vault_id,
                                                                    std::string_view path) = 0;
  // Schedules with something due at `now`: next_rotation_at <= now, or a pending disable with
  // disable_at <= now; the earliest first, at most `limit`. Answered from indexes.
  virtual StatusOr<std::vector<SecretSchedule>> ListDueSchedules(UnixMicros now, size_t limit) = 0;
  // Takes `claim` without writing a version (a `notify` policy's due time). kAborted when the
  // schedule no longer has next_rotation_at == claim.due_at (taken already, changed, removed).
  virtual Status AdvanceSecretSchedule(const ScheduleClaim& claim, const AuditEvent* audit) = 0;
  // Disables the schedule's waiting previous version (disabled_at = `at`, an earlier time kept)
  // and clears the wait, only while the schedule still waits for exactly (version, disable_at):
  // kAborted otherwise. Of concurrent calls for one wait exactly one succeeds.
  virtual Status DisableScheduledVersion(std::string_view secret_id, int64_t version,
                                         UnixMicros disable_at, UnixMicros at,
                                         const AuditEvent* audit) = 0;
  // Enabled versions with expires_at <= `expires_by` whose `event` was not yet announced,
  // without ciphertext, the earliest expiry first, at most `limit`. Answered from an index.
  virtual StatusOr<std::vector<SecretVersion>> ListUnannouncedExpiries(ExpiryEvent event,
                                                                       UnixMicros expires_by,
                                                                       size_t limit) = 0;
  // Records that `event` of the version was announced. kAborted when it already was (of
  // concurrent calls exactly one succeeds); kNotFound when the version does not exist.
  virtual Status MarkExpiryAnnounced(std::string_view secret_id, int64_t version, ExpiryEvent event,
                                     const AuditEvent* audit) = 0;

  // --- shares --------------------------------------------------------------------------------
  // A share belongs to its secret: deleting the secret (or its vault) deletes its shares.
  // Reads fill in the share's vault_id and path from its secret.
  // Inserts a share of version (secret_id, version). kNotFound when that version does not
  // exist; kAlreadyExists when the id or the token HMAC is taken.
  virtual Status InsertShare(const Share& share, const AuditEvent* audit) = 0;
  // The share whose token HMAC is `token_hmac`. kNotFound.
  virtual StatusOr<Share> GetShareByToken(const std::vector<uint8_t>& token_hmac) = 0;
  virtual StatusOr<Share> GetShare(std::string_view id) = 0;  // kNotFound
  // Every share `created_by` made, revoked and expired ones too, ordered by creation.
  virtual StatusOr<std::vector<Share>> ListSharesByCreator(std::string_view created_by) = 0;
  // Sets revoked_at (the first revocation wins; revoking again is OK). kNotFound.
  virtual Status RevokeShare(std::string_view id, UnixMicros at, const AuditEvent* audit) = 0;
  // Atomically counts one access through a share: succeeds only while the share is not
  // revoked, `now` < its expires_at, and it has accesses left (max_access_count 0: any number),
  // and while its version is enabled, not expired at `now` and has reads left — a version with
  // a read limit is counted too, in the same transaction. Both counts are durable before this
  // returns; of concurrent accesses, on any server, no more than the limits succeed. Returns
  // the share's new access_count. kGone when the share or its version refuses the access;
  // kNotFound when the share or its version no longer exists.
  virtual StatusOr<int64_t> ConsumeShareAccess(std::string_view id, UnixMicros now,
                                               const AuditEvent* audit) = 0;

  // --- webhooks (docs/webhooks.md) -------------------------------------------------------------
  // An endpoint belongs to its vault (deleting the vault deletes it); a delivery to its endpoint.
  // Inserts the endpoint, setting its start_after_seq to the audit chain's head at that moment.
  // kNotFound when the vault does not exist; kAlreadyExists when the id is taken.
  virtual Status InsertWebhook(const WebhookEndpoint& endpoint, const AuditEvent* audit) = 0;
  // kNotFound when absent or in another vault.
  virtual StatusOr<WebhookEndpoint> GetWebhook(std::string_view vault_id, std::string_view id) = 0;
  // The endpoints of a vault, or of every vault (nullopt), ordered by creation.
  virtual StatusOr<std::vector<WebhookEndpoint>> ListWebhooks(
      std::optional<std::string_view> vault_id) = 0;
  // Deletes the endpoint and all its deliveries. kNotFound when absent or in another vault.
  virtual Status DeleteWebhook(std::string_view vault_id, std::string_view id,
                               const AuditEvent* audit) = 0;
  // The audit seq up to which events have been turned into deliveries (the dispatch cursor).
  virtual StatusOr<int64_t> GetWebhookCursor() = 0;
  // Queues `deliveries` (state pending, as given) and, when `cursor_from` is set, moves the
  // dispatch cursor from *cursor_from to `cursor_to`, all in one transaction: kAborted (nothing
  // queued) when the cursor is no longer *cursor_from, so of servers dispatching the same events
  // exactly one queues them. A delivery whose endpoint no longer exists is skipped.
  // kAlreadyExists when a delivery id is taken.
  virtual Status EnqueueWebhookDeliveries(const std::vector<WebhookDelivery>& deliveries,
                                          std::optional<int64_t> cursor_from, int64_t cursor_to,
                                          const AuditEvent* audit) = 0;
  // Leases up to `limit` (>= 1) pending deliveries due at `now` (next_attempt_at <= now) that
  // nobody holds (no lease, or one that ended at or before `now`) to `owner` until
  // `lease_until`, ordered by next_attempt_at; returns them as leased. Of concurrent claims, on
  // any server, each delivery goes to one.
  virtual StatusOr<std::vector<WebhookDelivery>> ClaimWebhookDeliveries(std::string_view owner,
                                                                        UnixMicros now,
                                                                        UnixMicros lease_until,
                                                                        size_t limit) = 0;
  // Records one attempt: attempts + 1, last_attempt_at, last_status_code, last_error, the new
  // state and (pending) next_attempt_at; the lease ends. kAborted when the delivery is not
  // pending under attempt.lease_owner's lease any more (it expired and another took it);
  // kNotFound when the delivery no longer exists (its endpoint was deleted).
  virtual Status FinishWebhookAttempt(const WebhookAttempt& attempt) = 0;
  // The deliveries of an endpoint, newest first, at most `limit` (0: no limit).
  virtual StatusOr<std::vector<WebhookDelivery>> ListWebhookDeliveries(std::string_view webhook_id,
                                                                       size_t limit) = 0;

  // --- gateway bindings (model/binding.h); revoking an agent deletes its bindings -------------
  // kAlreadyExists when the agent already has a binding of that name (or the id is taken).
  virtual Status InsertBinding(const Binding& b, const AuditEvent* audit) = 0;
  virtual StatusOr<Binding> GetBinding(std::string_view binding_id) = 0;  // kNotFound
  // The agent's binding whose id or name is `id_or_name`; kNotFound.
  virtual StatusOr<Binding> FindBinding(std::string_view agent_id, std::string_view id_or_name) = 0;
  // The agent's bindings, ordered by name.
  virtual StatusOr<std::vector<Binding>> ListBindings(std::string_view agent_id) = 0;
  // Replaces every field but id, agent_id, created_*; kNotFound; kAlreadyExists on a name clash.
  virtual Status UpdateBinding(const Binding& b, const AuditEvent* audit) = 0;
  virtual Status DeleteBinding(std::string_view binding_id,
                               const AuditEvent* audit) = 0;  // kNotFound

  // --- executions ------------------------------------------------------------------------------
  // The record and its audit event in one transaction (the event fails the write if it fails),
  // with the durability of AppendAudit (a call changes nothing else stored).
  // kAlreadyExists when the id is taken.
  virtual Status InsertExecution(const ExecutionRecord& e, const AuditEvent* audit) = 0;
  // InsertExecution without waiting (a call's record written after its answer was sent):
  // `done` gets the outcome InsertExecution would have had, once, on whichever thread finishes
  // the write — possibly the caller's, before this returns. `done` must be quick, must not throw
  // and must not call back into the store. Records queued together share a commit. The default
  // inserts at once with InsertExecution.
  virtual void InsertExecutionAsync(std::shared_ptr<const ExecutionRecord> e,
                                    std::shared_ptr<const AuditEvent> audit,
                                    std::function<void(Status)> done) {
    done(InsertExecution(*e, audit.get()));
  }
  // The agent's records, newest first, `offset` skipped, at most `limit` (0: no limit).
  virtual StatusOr<std::vector<ExecutionRecord>> ListExecutions(std::string_view agent_id,
                                                                size_t limit, size_t offset) = 0;

  // --- use counters (gateway rate limits and budgets, shared by every server on the store) ---
  // Fixed windows: each counter is (key, window_start); atomically, if every counter's count in
  // its window plus its amount is within its limit, adds each one's amount and allows;
  // otherwise changes nothing and names the first one without room (index) and when its window
  // ends. Counters of windows that
  // ended are deleted now and then. Needs no fsync of its own (a crash may forget the last
  // counts). kInvalidArgument when a counter has limit < 0, amount < 1 or
  // window_end <= window_start.
  virtual StatusOr<UseDecision> CountUse(std::span<const UseCounter> counters) = 0;

  // --- copying a store (coffer migrate) ------------------------------------------------------
  // Inserts one version exactly as given (secret id, number, counters, times, ciphertext, which
  // stays bound to those ids), creating the secret with version 1. Versions of a secret must
  // come in order 1, 2, 3…: kFailedPrecondition otherwise; kAlreadyExists when the version or
  // (for version 1) the secret id or path is taken; kNotFound when the vault does not exist.
  // The secret's max_versions is set from version.secret_max_versions.
  virtual Status ImportSecretVersion(const SecretVersion& version) = 0;
  // Sets alias `alias` of secret `secret_id` to `version` as given (no check of the version's
  // state). kNotFound when the secret or version does not exist.
  virtual Status ImportSecretAlias(std::string_view secret_id, std::string_view alias,
                                   int64_t version) = 0;

  // --- changes -------------------------------------------------------------------------------
  // What the layers above may keep in memory (credentials, principals, vaults, policies) and
  // how to keep it fresh. Every mutation that changes one of those is published to the feed by
  // the time the call returns, whatever its outcome (a failed COMMIT may have committed): by
  // InsertCredential and RevokeCredential (kCredential), InsertAgent, UpdateAgent, RevokeAgent
  // and ReplaceAgentCredentials (kPrincipal), InsertVault and DeleteVault (kVault), InsertPolicy,
  // UpdatePolicy and DeletePolicy (kPolicies), PutSecretVersion, DisableSecretVersion,
  // DestroySecretVersion, DeleteSecret, SetSecretAlias, DeleteSecretAlias, PromoteSecret and
  // RollbackSecret (kSecret, for requests waiting on a secret), InsertBinding, UpdateBinding
  // and DeleteBinding (kBinding). On a store other processes write
  // too (PostgreSQL shared by several servers), their changes are published as well, within
  // kMaxChangeDelay while the feed is Current(). The feed lives as long as the store. Pure, so a
  // wrapper store cannot forget to pass it on.
  virtual ChangeFeed& Changes() = 0;
};

}  // namespace coffer
