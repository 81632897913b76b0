// Plain records that cross the service/store boundary: vaults, secrets and their versions,
// principals and credentials, keyring entries. No behaviour beyond small predicates.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace coffer {

// The secret types of the API: the seeds' eight, then the two more the seeds' OpenAPI
// description names (`generic`, its default when a write names none, and `env`). Stored by name.
enum class SecretType : uint8_t {
  kPassword,
  kApiKey,
  kPrivateKey,
  kCertificate,
  kFile,
  kNote,
  kSshKey,
  kEnvBundle,
  kGeneric,
  kEnv,
};

std::string_view SecretTypeName(SecretType t);
std::optional<SecretType> ParseSecretType(std::string_view name);
// "password, api_key, …" for error messages.
std::string_view SecretTypeList();

struct Vault {
  std::string id;  // UUID
  std::string name;
  std::string description;
  std::string owner_id;  // user id of the creator
  UnixMicros created_at = 0;
  // Versions each secret of the vault keeps at most (older ones are destroyed); 0: no limit.
  int64_t max_versions = 0;
};

// One version of a secret. Every field but `ciphertext` is metadata that may be shown.
struct SecretVersion {
  std::string secret_id;  // UUID of the secret (stable across versions)
  std::string vault_id;
  std::string path;
  int64_t version = 0;  // 1, 2, 3 … dense per secret
  SecretType type = SecretType::kPassword;
  std::string metadata_json = "{}";  // a JSON object, serialized
  std::string rotation_policy_json;  // a JSON object, or empty for none
  std::optional<UnixMicros> expires_at;
  int64_t max_access_count = 0;  // 0 = unlimited
  // Reads handed out: exact and durable per read when max_access_count > 0; otherwise counted
  // in memory and added in batches (docs/usage.md), so it may lag by the unflushed window.
  int64_t access_count = 0;
  std::optional<UnixMicros> disabled_at;
  UnixMicros created_at = 0;
  std::string created_by;           // id of the principal (user or agent) who wrote this version
  std::vector<uint8_t> ciphertext;  // AEAD blob, see crypto/aead.h
  // When the secret's rotation schedule is next due (service/rotation_policy.h). Not a column
  // of the version: the service fills it in for metadata answers; empty when unscheduled.
  std::optional<UnixMicros> next_rotation_at;
  // When the version was destroyed: its ciphertext erased for good (it is disabled too).
  std::optional<UnixMicros> destroyed_at;
  // Of the secret, not the version: versions it keeps at most (0: no limit of its own).
  int64_t secret_max_versions = 0;
  // Of the secret: its aliases (current, pending, previous, user names) and the versions they
  // name. Filled in by the store's reads of one secret (GetSecretVersion, ListSecretVersions,
  // PutSecretVersion, DisableSecretVersion, DestroySecretVersion); empty in listings.
  std::map<std::string, int64_t> aliases;
  // Usage (batched, docs/usage.md): this version's last read and its reader's principal id, and
  // the same over every version of its secret (reads summed, the latest read and its reader).
  std::optional<UnixMicros> last_read_at;
  std::string last_read_by;
  int64_t secret_read_count = 0;
  std::optional<UnixMicros> secret_last_read_at;
  std::string secret_last_read_by;

  bool is_disabled() const { return disabled_at.has_value(); }
  bool is_destroyed() const { return destroyed_at.has_value(); }
};

// Summary of a secret for listings: its latest version's metadata, no value.
using SecretSummary = SecretVersion;

enum class PrincipalKind : uint8_t { kUser, kAgent };
std::string_view PrincipalKindName(PrincipalKind k);

struct User {
  std::string id;  // UUID
  std::string name;
  bool is_admin = false;
  UnixMicros created_at = 0;
};

// A stored credential: only the public id and an HMAC of the secret part, never the secret.
struct Credential {
  std::string public_id;  // the `<public id>` part of cfr_<kind>_<public id>_…
  std::string kind;       // "key" (API key), "rot" (rotation secret)
  PrincipalKind principal_kind = PrincipalKind::kUser;
  std::string principal_id;
  std::string name;                  // label chosen by its owner
  std::vector<uint8_t> secret_hmac;  // HMAC-SHA256(pepper, secret part)
  UnixMicros created_at = 0;
  // When it stops working. A time in the future is a rotation's grace window: the credential
  // works until then (IsRevokedAt).
  std::optional<UnixMicros> revoked_at;

  // The pepper key ids secret_hmac was made under, innermost first (crypto/keyring.h).
  std::vector<uint32_t> pepper_ids;

  bool IsRevokedAt(UnixMicros now) const { return revoked_at.has_value() && *revoked_at <= now; }
};

// A pepper chain as stored ("2", "2,5"), and back; ParsePepperIds gives an empty chain for text
// that is not one.
std::string FormatPepperIds(const std::vector<uint32_t>& ids);
std::vector<uint32_t> ParsePepperIds(std::string_view text);

// A data key wrapped (AES-256-GCM) under the root key. `purpose` says what it is for.
struct WrappedKey {
  uint32_t id = 0;
  std::string purpose;  // "data", "hmac-pepper", "jwt"
  std::vector<uint8_t> wrapped;
  UnixMicros created_at = 0;
  bool active = true;  // the key new writes of this purpose use
};

}  // namespace coffer
