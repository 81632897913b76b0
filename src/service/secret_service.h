// SecretService: every rule of the secrets API (seeds 000–002). Versioned writes, reads of the
// latest readable version, counted and expiring reads, server-side rotation, version listing and
// disabling. Values are sealed with the keyring, bound to (vault, secret, version). Thread-safe.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "model/secret.h"
#include "service/principal.h"
#include "service/rotation_policy.h"
#include "service/secret_watch.h"
#include "service/service_deps.h"
#include "store/store.h"

namespace coffer {

inline constexpr size_t kMaxSecretValueBytes = 512 * 1024;
inline constexpr size_t kMaxMetadataBytes = 16 * 1024;
inline constexpr int64_t kMaxAccessCountLimit = 1'000'000'000;
inline constexpr size_t kMaxListLimit = 1000;
// A listing filtered by policy reads at most this many store rows per request (in batches of at
// most kMaxListLimit, the first of at least kListFirstBatch).
inline constexpr size_t kMaxListScan = 10 * kMaxListLimit;
inline constexpr size_t kListFirstBatch = 64;

struct PutSecretRequest {
  std::string type;  // one of the eight type names
  SecretBuffer value;
  std::string metadata_json = "{}";  // a serialized JSON object
  std::string rotation_policy_json;  // a serialized JSON object, or empty
  std::optional<UnixMicros> expires_at;
  int64_t max_access_count = 0;
  // Check-and-set: write only if the latest version is this (0: only if no secret exists).
  std::optional<int64_t> expected_latest;
  // "current" (default) or "pending" (docs/secret-versions.md).
  std::optional<std::string> stage;
  // The secret's own kept-version limit (0: none); nullopt keeps what it is.
  std::optional<int64_t> max_versions;
};

struct RotateSecretRequest {
  std::optional<int64_t> length;       // default 32
  std::optional<std::string> charset;  // default "hex"
  std::optional<std::string> type;     // default: the existing secret's type
  // "current" (default) or "pending": the rotation scheduler rotates into "pending" with this.
  std::optional<std::string> stage;
};

struct SecretValue {
  SecretVersion meta;  // ciphertext cleared
  SecretBuffer value;
};

// A stored value that failed to decrypt: what an operator needs to find the row, never the
// value or any byte of the blob.
struct IntegrityFailure {
  std::string vault_id;
  std::string secret_id;
  std::string path;
  int64_t version = 0;
  std::optional<uint32_t> key_id;  // the data key the blob names; none when too short to say
  bool key_held = false;           // whether the keyring holds that key
  std::string request_id;
};

struct SecretServiceHooks {
  // Called (from a request thread) when a stored value names a data key the keyring does not
  // hold, before the read is declared failed: re-reads the keyring (another process may have
  // rotated it) and returns true when the read is worth trying again. May be empty.
  std::function<bool()> reload_keyring;
  // Called when reload_keyring did not help: why the root key's provider (a PKCS#11 token)
  // cannot be reached, or OK. A read then fails with that kUnavailable (503
  // key-provider-unavailable: nothing is lost, the value opens once the token is back) rather
  // than as damaged. May be empty.
  std::function<Status()> key_provider_failure;
  // Called (from a request thread) for every stored value that fails to decrypt, to raise an
  // alert. Must be thread-safe. May be empty.
  std::function<void(const IntegrityFailure&)> on_integrity_failure;
  // The shortest rotation interval a rotation_policy may ask for (service/rotation_policy.h).
  std::chrono::seconds min_rotation_interval = kDefaultMinRotationInterval;
};

class SecretService {
 public:
  // `max_list_scan`: the store rows a listing filtered by policy reads at most per request
  // (tests lower it).
  SecretService(const ServiceDeps& deps, const Keyring& keyring, SecretServiceHooks hooks = {},
                size_t max_list_scan = kMaxListScan)
      : deps_(deps),
        store_(deps.store),
        keyring_(keyring),
        clock_(deps.clock),
        hooks_(std::move(hooks)),
        max_list_scan_(std::max<size_t>(1, max_list_scan)),
        watchers_(deps.store.Changes()) {}

  // Stores a new version. kInvalidArgument naming the field at fault; kNotFound for a missing
  // vault; kPermissionDenied without write permission; kFailedPrecondition (payload
  // precondition_failed) when request.expected_latest does not hold.
  StatusOr<SecretVersion> Put(const RequestContext& ctx, std::string_view vault_id,
                              std::string_view path, PutSecretRequest request);

  // The latest readable (not disabled) version's value. kGone when it has expired, its read
  // limit is spent, or every version is disabled; a counted read is durable before this returns.
  StatusOr<SecretValue> Get(const RequestContext& ctx, std::string_view vault_id,
                            std::string_view path);

  // That version's value; kGone when disabled, expired or spent.
  StatusOr<SecretValue> GetVersion(const RequestContext& ctx, std::string_view vault_id,
                                   std::string_view path, std::string_view version);

  // Latest-version metadata of secrets whose path starts with `prefix`, after `after` (a path,
  // or a cursor from an earlier page), at most `limit` (1..kMaxListLimit, default the most). No
  // values. A caller who is not the vault's owner or the admin gets only the paths they may
  // list, and `next_after` never names another: it is the last path returned, or a sealed
  // cursor (see service/list_cursor.h) when the scan budget ran out; empty when nothing visible
  // remains. kInvalidArgument for a bad prefix, `after` or `limit`.
  // With `unused_since`, only secrets not read since then (never-read ones included); reads
  // are known as of the last usage flush (docs/usage.md).
  StatusOr<SecretListPage> List(const RequestContext& ctx, std::string_view vault_id,
                                std::string_view prefix, std::string_view after,
                                std::optional<int64_t> limit,
                                std::optional<UnixMicros> unused_since = std::nullopt);

  Status Delete(const RequestContext& ctx, std::string_view vault_id, std::string_view path);

  // Generates a value server-side and stores it as the next version (type, metadata and read
  // limit carry over; `type` overrides). A path with no secret gets version 1 (type `password`
  // unless given). The value is never returned.
  StatusOr<SecretVersion> Rotate(const RequestContext& ctx, std::string_view vault_id,
                                 std::string_view path, RotateSecretRequest request);

  // Every version, newest first, without values.
  StatusOr<std::vector<SecretVersion>> ListVersions(const RequestContext& ctx,
                                                    std::string_view vault_id,
                                                    std::string_view path);

  // Sets the secret's rotation schedule from `policy_json` (service/rotation_policy.h; the
  // schedule lives on the secret, no version is written), first due one interval (or the next
  // cron time) from now. Audited as secret.schedule. kInvalidArgument naming the field at fault;
  // kNotFound for a missing vault or secret; kPermissionDenied without `rotate` or `write`.
  // (secret_schedule.cc)
  StatusOr<SecretSchedule> Schedule(const RequestContext& ctx, std::string_view vault_id,
                                    std::string_view path, std::string_view policy_json);
  // Removes the secret's schedule (OK when it had none). Audited as secret.unschedule. kNotFound
  // for a missing vault or secret; kPermissionDenied without `rotate` or `write`.
  Status Unschedule(const RequestContext& ctx, std::string_view vault_id, std::string_view path);

  // Disables a version (idempotent). Reads of it get kGone from then on.
  StatusOr<SecretVersion> DisableVersion(const RequestContext& ctx, std::string_view vault_id,
                                         std::string_view path, std::string_view version);

  // --- version lifecycle (secret_versions.cc; docs/secret-versions.md) ------------------------
  // The value of the version alias `alias` names, as GetVersion reads it (kGone when disabled,
  // destroyed, expired or spent). kInvalidArgument naming `alias` for a malformed name;
  // kNotFound when the secret or the alias does not exist.
  StatusOr<SecretValue> GetAlias(const RequestContext& ctx, std::string_view vault_id,
                                 std::string_view path, std::string_view alias);
  // Points `alias` at `version` (audited secret.alias). Needs rotate or write. kInvalidArgument
  // naming alias or version; kNotFound (secret, version); kFailedPrecondition when the version
  // is disabled or destroyed. Returns the secret's aliases.
  StatusOr<std::map<std::string, int64_t>> SetAlias(const RequestContext& ctx,
                                                    std::string_view vault_id,
                                                    std::string_view path, std::string_view alias,
                                                    int64_t version);
  // Removes `alias` (audited secret.alias). kNotFound when it is not set.
  StatusOr<std::map<std::string, int64_t>> DeleteAlias(const RequestContext& ctx,
                                                       std::string_view vault_id,
                                                       std::string_view path,
                                                       std::string_view alias);
  // pending -> current, old current -> previous (audited secret.promote); rollback is its
  // inverse (audited secret.rollback). Needs rotate or write. kFailedPrecondition when there is
  // nothing to promote (roll back to). Returns the secret's aliases.
  StatusOr<std::map<std::string, int64_t>> Promote(const RequestContext& ctx,
                                                   std::string_view vault_id,
                                                   std::string_view path);
  StatusOr<std::map<std::string, int64_t>> Rollback(const RequestContext& ctx,
                                                    std::string_view vault_id,
                                                    std::string_view path);
  // Erases the version's value for good (audited secret.destroy_version). Needs delete or
  // write. kNotFound; kFailedPrecondition when current or pending names it.
  StatusOr<SecretVersion> DestroyVersion(const RequestContext& ctx, std::string_view vault_id,
                                         std::string_view path, std::string_view version);
  // For long polls (service/secret_watch.cc): the number of the version a plain read of the
  // secret at `path` returns (the one `current` names when set, else the latest not disabled), 0
  // when there is none (no secret yet, every version disabled, `current` names a gone version),
  // without revealing or counting a value. kNotFound for a missing vault, kPermissionDenied without
  // read permission. Not audited: the caller audits the request.
  StatusOr<int64_t> LatestReadableVersion(const RequestContext& ctx, std::string_view vault_id,
                                          std::string_view path);
  // For the agent gateway (service/gateway_service.h): the value a binding attaches to an
  // upstream call, the one a plain read returns, for a caller with `use` or `read` on the path.
  // Not audited here: the call's `binding.use` event (written when the call ends, with this
  // version) is its record. A counted secret (max_access_count) spends one read per use, with an
  // event of its own (secret.use). kNotFound, kPermissionDenied, kGone as Get. The read is
  // counted in the usage statistics by NoteBindingUse, once the call is sure to start (so an
  // attempt thrown away on an I/O thread, see common/non_blocking.h, is not counted).
  StatusOr<SecretValue> UseForBinding(const RequestContext& ctx, std::string_view vault_id,
                                      std::string_view path);
  // Counts a binding's use of `used` (what UseForBinding returned) in the usage statistics.
  void NoteBindingUse(const RequestContext& ctx, const SecretVersion& used);
  // Where a request waiting for a secret to change registers.
  SecretWatchers& watchers() { return watchers_; }

 private:
  // An audited change of the secret's aliases: checks rotate (or write) on the path, then runs
  // `change` with the vault and the event to append (store methods take it as their audit).
  StatusOr<std::map<std::string, int64_t>> ChangeAliases(
      const RequestContext& ctx, std::string_view action, std::string_view vault_id,
      std::string_view path,
      const std::function<StatusOr<std::map<std::string, int64_t>>(const Vault&, AuditEvent&)>&
          change);
  // Loads the vault, validates `path` and checks `permission` (or else `alternative`) on it.
  // kNotFound when the vault is absent; kPermissionDenied when not allowed.
  StatusOr<Vault> Authorize(const RequestContext& ctx, std::string_view vault_id,
                            std::string_view path, Permission permission,
                            std::optional<Permission> alternative = std::nullopt);
  // List of only the secrets `keep` accepts (paths the caller may list, unused ones).
  StatusOr<SecretListPage> ListVisible(const RequestContext& ctx, const Vault& vault,
                                       std::string_view prefix, std::string position, size_t limit,
                                       const std::function<bool(const SecretSummary&)>& keep);
  StatusOr<SecretVersion> Write(const RequestContext& ctx, const Vault& vault,
                                std::string_view path, NewSecretVersion version,
                                const SecretBuffer& value, AuditEvent& event);
  // Applies expiry and read limits to a loaded version, then decrypts it; a counted read is
  // spent together with `event`. `count_read`: the read goes into the usage statistics.
  StatusOr<SecretValue> Reveal(const RequestContext& ctx, SecretVersion version, AuditEvent& event,
                               bool count_read = true);

  // The policy of a write's rotation_policy field, or nullopt for none (empty or {}).
  // kInvalidArgument naming the field at fault. (secret_schedule.cc)
  StatusOr<std::optional<RotationPolicy>> WrittenPolicy(std::string_view policy_json) const;
  // After a write that carried `policy`: (re)starts the secret's schedule from now and sets
  // version.next_rotation_at; without one, sets next_rotation_at from the stored schedule.
  // (secret_schedule.cc)
  Status NoteSchedule(SecretVersion& version, const std::optional<RotationPolicy>& policy);

  // Decrypts a loaded version; on failure reloads the keyring once if the blob names a key it
  // does not hold, raises the integrity alert and returns kDataLoss with a fixed message.
  StatusOr<SecretBuffer> Open(const RequestContext& ctx, const SecretVersion& version);

  ServiceDeps deps_;
  Store& store_;
  const Keyring& keyring_;
  const Clock& clock_;
  const SecretServiceHooks hooks_;
  const size_t max_list_scan_;
  SecretWatchers watchers_;
};

// Parses a version path segment: a positive decimal integer. kInvalidArgument otherwise.
StatusOr<int64_t> ParseVersionNumber(std::string_view text);

// An alias name: 1-32 of [a-z0-9_-], starting with a letter. kInvalidArgument naming `alias`.
// (secret_versions.cc)
Status ValidateAliasName(std::string_view alias);
// A write's stage: nullopt or "current" -> false, "pending" -> true. kInvalidArgument naming
// `stage` otherwise. (secret_versions.cc)
StatusOr<bool> ParseStage(const std::optional<std::string>& stage);

}  // namespace coffer
