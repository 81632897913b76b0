// Records for who may do what: agents, per-vault policies, and audit events with their hash
// chain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/sha256.h"
#include "model/policy_conditions.h"
#include "model/secret.h"

namespace coffer {

struct Agent {
  std::string id;  // UUID
  std::string name;
  std::string description;
  std::string owner_id;  // the user who created it
  UnixMicros created_at = 0;
  std::optional<UnixMicros> revoked_at;  // deleted: for good
  // Deactivated (PATCH is_active false) since then; nullopt while active. Unlike revocation it
  // can be undone, and the agent's credentials are kept for when it is.
  std::optional<UnixMicros> deactivated_at;
  // Its last authenticated request (batched like read counts, docs/usage.md); nullopt: never.
  std::optional<UnixMicros> last_used_at;

  bool is_revoked() const { return revoked_at.has_value(); }
  // Whether the agent may authenticate at all: neither revoked nor deactivated.
  bool is_active() const { return !revoked_at.has_value() && !deactivated_at.has_value(); }
};

// Permission bits of a policy.
enum PermissionBits : uint8_t {
  kPermRead = 1 << 0,
  kPermWrite = 1 << 1,
  kPermRotate = 1 << 2,
  kPermDelete = 1 << 3,
  kPermList = 1 << 4,
  // Call through the agent's gateway bindings with the secret as the credential, never reading
  // its value.
  kPermUse = 1 << 5,
};

// What a policy does when it applies: an allow grants its permissions; a deny in force takes them
// away whatever any allow grants.
enum class PolicyEffect : uint8_t { kAllow, kDeny };
std::string_view PolicyEffectName(PolicyEffect effect);  // "allow" | "deny"

// The schema version of Coffer's policies: field matching only, no expression engine.
inline constexpr int64_t kPolicySchemaVersion = 1;

struct Policy {
  std::string id;  // UUID
  std::string vault_id;
  PrincipalKind principal_kind = PrincipalKind::kAgent;
  std::string principal_id;
  std::string path_glob;    // see model/path_glob.h
  uint8_t permissions = 0;  // PermissionBits
  std::optional<UnixMicros> expires_at;
  UnixMicros created_at = 0;
  std::string created_by;
  PolicyEffect effect = PolicyEffect::kAllow;
  int64_t priority = 0;  // >= 0; stored and shown, decides nothing (docs/policies.md)
  PolicyConditions conditions;
  std::optional<UnixMicros> updated_at;  // the last update, if any
};

// One audit event. Never holds a value, key or token.
struct AuditEvent {
  int64_t seq = 0;  // assigned by the store: 1, 2, 3 … without gaps
  UnixMicros at = 0;
  std::string request_id;
  std::string actor_kind;  // "user", "agent", or "anonymous"
  std::string actor_id;    // empty when anonymous
  std::string action;      // e.g. "secret.read"
  std::string vault_id;
  std::string path;
  int64_t version = 0;  // 0 when not about one version
  std::string client_ip;
  std::string outcome;      // "success", "denied" (401/403/429), "failure" (any other error)
  std::string status;       // the canonical status name: "OK", "PERMISSION_DENIED", "GONE", …
  int32_t http_status = 0;  // the protocol's answer for a success (201, 204, …); 0 if not known
  // How many requests the event stands for when it summarises several (auth.failed.summary:
  // refusals of one client address); 0 for an event of its own request.
  int64_t count = 0;
  // What else the event records, as a compact JSON object text (e.g. a gateway call's binding,
  // method and upstream status); empty for nothing. Never a value, key or token.
  std::string details;
  Sha256Digest prev_hash{};  // hash of event seq-1 (zeros for the first)
  Sha256Digest hash{};       // AuditChainHash(prev_hash, this)
};

// SHA-256(prev_hash || canonical encoding of every field but the hashes). Length-prefixed so no
// two different events encode alike. `count` is appended only when not 0, and `details` only
// when not empty, so events written before they existed keep their hashes.
Sha256Digest AuditChainHash(const Sha256Digest& prev_hash, const AuditEvent& event);

// The event's id as the seeds' OpenAPI description shows it (AuditEvent.id, a UUID): the first
// 16 bytes of its chain hash with RFC 9562's version 8 (custom) and variant bits set, in the
// canonical lowercase form. Stable (a stored hash never changes) and unique within a chain
// (the hash covers seq). All-zero `hash` (the link before the first event): empty.
std::string AuditEventId(const Sha256Digest& hash);

// What an event is about, as that description's AuditEvent names it (resource_type,
// resource_id):
// - a secret's events ("secret.*" but "secret.list"): "secret", its path;
// - a vault's events ("vault.*", and "secret.list", which lists a vault): "vault", its id;
// - anything else: the action's first word ("agent", "policy", "user", "auth", …) and no id
//   (the event does not record which one).
// An empty recorded path or vault id gives no id. The stores' resource_id filter
// (AuditQuery::resource_id) follows the same rule.
struct AuditResource {
  std::string_view type;
  std::string_view id;  // empty: none
};
AuditResource AuditEventResource(const AuditEvent& event);

}  // namespace coffer
