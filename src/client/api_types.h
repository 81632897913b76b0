// Typed views of the Coffer API's JSON answers (docs/identity-and-access.md and the secrets
// routes). Each keeps the server's own object in `json` for --json output; objects that carry
// a secret (a value, an API key) keep it only in a SecretBuffer, never in `json`.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/secret_buffer.h"

namespace coffer::client {

struct Vault {
  std::string id;
  std::string name;
  std::string description;
  std::string created_by;
  std::string created_at;
  boost::json::object json;
};

struct SecretMeta {
  std::string id;
  std::string vault_id;
  std::string path;
  std::string type;
  int64_t version = 0;
  std::string created_at;
  std::optional<std::string> expires_at;
  int64_t max_access_count = 0;
  int64_t access_count = 0;
  bool is_disabled = false;
  boost::json::object json;  // without "value"
};

struct SecretValue {
  SecretMeta meta;
  SecretBuffer value;
};

struct SecretPage {
  std::vector<SecretMeta> secrets;
  std::optional<std::string> next_after;
};

struct VersionInfo {
  int64_t version = 0;
  std::string type;
  bool is_disabled = false;
  std::optional<std::string> disabled_at;
  std::string created_at;
  std::optional<std::string> expires_at;
  int64_t max_access_count = 0;
  int64_t access_count = 0;
  boost::json::object json;
};

struct VersionList {
  std::string id;
  std::string path;
  std::vector<VersionInfo> versions;  // newest first
  boost::json::object json;
};

struct Me {
  std::string type;  // "user" or "agent"
  std::string id;
  std::string name;
  bool is_admin = false;
  boost::json::object json;
};

struct User {
  std::string id;
  std::string name;
  bool is_admin = false;
  std::string created_at;
  boost::json::object json;
};

struct ApiKeyInfo {
  std::string id;
  std::string name;
  std::string created_at;
  std::optional<std::string> revoked_at;
  boost::json::object json;
};

struct IssuedApiKey {
  ApiKeyInfo info;
  SecretBuffer api_key;
};

struct Agent {
  std::string id;
  std::string name;
  std::string description;
  std::string created_by;
  std::string created_at;
  bool is_revoked = false;
  std::optional<std::string> revoked_at;
  boost::json::object json;
};

struct AgentCredentials {
  Agent agent;
  SecretBuffer api_key;
  SecretBuffer rotation_secret;
};

struct SelfRotation {
  std::string agent_id;
  std::string agent_name;
  SecretBuffer api_key;
  SecretBuffer rotation_secret;
};

struct Policy {
  std::string id;
  std::string vault_id;
  std::string principal_type;
  std::string principal_id;
  std::string secret_path_pattern;
  std::vector<std::string> permissions;
  std::optional<std::string> expires_at;
  std::string created_at;
  std::string created_by;
  boost::json::object json;
};

struct AuditEvent {
  int64_t seq = 0;
  std::string at;
  std::string request_id;
  std::string actor_type;
  std::string actor_id;  // "" when none
  std::string action;
  std::string vault_id;
  std::string path;
  int64_t version = 0;  // 0 when none
  std::string client_ip;
  std::string outcome;
  std::string status;
  int64_t http_status = 0;
  int64_t count = 1;  // requests the event stands for (more than 1: a summary)
  boost::json::object json;
};

struct AuditPage {
  std::vector<AuditEvent> events;
  std::optional<int64_t> next_after;
};

struct AuditVerification {
  bool ok = false;
  int64_t events_checked = 0;
  std::optional<int64_t> first_broken_seq;
  std::optional<std::string> reason;
  std::string head_hash;
  boost::json::object json;
};

// GET /v1/sys/seal-status.
struct SealStatus {
  bool sealed = false;
  int64_t threshold = 0;
  int64_t shares = 0;
  int64_t progress = 0;
  boost::json::object json;
};

struct AccessToken {
  SecretBuffer token;
  int64_t expires_in = 0;
  std::string expires_at;
};

// --- Inputs ---------------------------------------------------------------------------------

struct PutSecretInput {
  std::string type;
  SecretBuffer value;
  std::optional<std::string> metadata_json;         // a JSON object's text
  std::optional<std::string> rotation_policy_json;  // a JSON object's text
  std::optional<std::string> expires_at;            // RFC 3339
  std::optional<int64_t> max_access_count;
  // Check-and-set: write only if the latest version is this (0: only if no secret exists).
  std::optional<int64_t> cas;
  std::optional<std::string> stage;  // "current" or "pending"
  std::optional<int64_t> max_versions;
};

struct RotateSecretInput {
  std::optional<int64_t> length;
  std::optional<std::string> charset;
  std::optional<std::string> type;
  std::optional<std::string> stage;  // "current" or "pending"
};

struct PolicyInput {
  std::string principal_type;  // "agent" or "user"
  std::string principal_id;
  std::string secret_path_pattern;
  std::vector<std::string> permissions;
  std::optional<std::string> expires_at;
};

// POST /v1/secrets/{secret_id}/share.
struct ShareInput {
  std::string recipient_type;  // "anyone_with_link", "user", "agent", …
  std::optional<std::string> recipient_id;
  std::string expires_at;  // RFC 3339
  std::optional<int64_t> max_access_count;
};

struct AuditQuery {
  std::string vault_id;
  std::string actor_id;
  std::string action;
  std::string since;
  std::string until;
  std::optional<int64_t> after;
  std::optional<int64_t> limit;
};

}  // namespace coffer::client
