// Store: the persistence interface every backend implements (SQLite embedded, PostgreSQL).
// It knows rows, not rules: the service layer decides what may be read or written; the store
// makes each call atomic and durable. Every method is safe for concurrent use, and every write
// is durable (fsynced or equivalent) before it returns OK.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "model/secret.h"

namespace coffer {

// Which version of a secret a read resolves to.
struct VersionSelector {
  enum class Kind : uint8_t { kLatestEnabled, kLatestAny, kExact };
  Kind kind = Kind::kLatestEnabled;
  int64_t version = 0;  // for kExact

  static VersionSelector LatestEnabled() { return {Kind::kLatestEnabled, 0}; }
  static VersionSelector LatestAny() { return {Kind::kLatestAny, 0}; }
  static VersionSelector Exact(int64_t v) { return {Kind::kExact, v}; }
};

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
};

// Called inside the write transaction once the secret id and version number are known, so the
// ciphertext can be bound to them. `header` has every field but `ciphertext` filled in.
using SealFunction = std::function<StatusOr<std::vector<uint8_t>>(const SecretVersion& header)>;

struct SecretListPage {
  std::vector<SecretSummary> secrets;  // ordered by path; latest version of each, no ciphertext
  std::string next_after;              // non-empty when more remain: pass as `after`
};

class Store {
 public:
  virtual ~Store() = default;

  // --- keyring -------------------------------------------------------------------------------
  // Every wrapped key, ordered by id.
  virtual StatusOr<std::vector<WrappedKey>> LoadKeys() = 0;
  // kAlreadyExists if the id is taken. When `key.active`, other keys of its purpose become
  // inactive in the same transaction.
  virtual Status InsertKey(const WrappedKey& key) = 0;

  // --- users and credentials -----------------------------------------------------------------
  virtual Status InsertUser(const User& user) = 0;        // kAlreadyExists on duplicate name
  virtual StatusOr<User> GetUser(std::string_view id) = 0;  // kNotFound
  virtual Status InsertCredential(const Credential& credential) = 0;  // kAlreadyExists
  virtual StatusOr<Credential> GetCredential(std::string_view public_id) = 0;  // kNotFound

  // --- vaults --------------------------------------------------------------------------------
  // kAlreadyExists when the owner already has a vault of that name.
  virtual Status InsertVault(const Vault& vault) = 0;
  virtual StatusOr<Vault> GetVault(std::string_view vault_id) = 0;  // kNotFound
  // Every vault, or only those of `owner_id`; ordered by creation time.
  virtual StatusOr<std::vector<Vault>> ListVaults(std::optional<std::string_view> owner_id) = 0;
  // Deletes the vault with all its secrets and versions. kNotFound.
  virtual Status DeleteVault(std::string_view vault_id) = 0;

  // --- secrets -------------------------------------------------------------------------------
  // Appends the next version (1 for a new path) of the secret at (vault, path), creating the
  // secret if needed. Versions are dense and unique under any concurrency. Returns the stored
  // version without ciphertext. kNotFound if the vault does not exist; any error from `seal`
  // aborts the write.
  virtual StatusOr<SecretVersion> PutSecretVersion(const NewSecretVersion& version,
                                                   const SealFunction& seal) = 0;

  // The selected version with its ciphertext. kNotFound when there is no secret at the path or
  // no such version; kGone for kLatestEnabled when every version is disabled.
  virtual StatusOr<SecretVersion> GetSecretVersion(std::string_view vault_id,
                                                   std::string_view path,
                                                   VersionSelector selector) = 0;

  // Every version, newest first, without ciphertext. kNotFound when there is no secret.
  virtual StatusOr<std::vector<SecretVersion>> ListSecretVersions(std::string_view vault_id,
                                                                  std::string_view path) = 0;

  // Secrets whose path starts with `prefix` (plain string prefix), ordered by path, after the
  // path `after` (exclusive, empty for the start), at most `limit` (0: no limit). Paths compare
  // bytewise, as memcmp does.
  virtual StatusOr<SecretListPage> ListSecrets(std::string_view vault_id,
                                               std::string_view prefix, std::string_view after,
                                               size_t limit) = 0;

  // Deletes the secret and all its versions. kNotFound.
  virtual Status DeleteSecret(std::string_view vault_id, std::string_view path) = 0;

  // Marks the version disabled at `at` (the row stays). Already disabled: OK, time unchanged.
  // Returns the version's metadata. kNotFound.
  virtual StatusOr<SecretVersion> DisableSecretVersion(std::string_view vault_id,
                                                       std::string_view path, int64_t version,
                                                       UnixMicros at) = 0;

  // Atomically counts one read of a version with a read limit: succeeds only while the
  // version is enabled and access_count < max_access_count, and the new count is durable
  // before this returns. Returns the new access_count; kGone when no read is left (or the
  // version was disabled meanwhile); kNotFound when the version no longer exists;
  // kFailedPrecondition when the version has no read limit (max_access_count 0).
  virtual StatusOr<int64_t> ConsumeSecretAccess(std::string_view secret_id, int64_t version) = 0;
};

}  // namespace coffer
