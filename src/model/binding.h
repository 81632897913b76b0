// Gateway bindings: a credential (a secret, always its current readable version) and where an
// agent may send it; and the record of each call made through one.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"

namespace coffer {

// A binding: a credential (a secret, always its current readable version) and where an agent
// may send it. Config and guardrails are stored as validated JSON object text.
struct Binding {
  std::string id;  // UUID
  std::string agent_id;
  std::string name;  // unique per agent, [A-Za-z0-9_-]{1,64}
  std::string binding_type = "http";
  std::string config_json = "{}";  // see service/binding_config.h
  std::string guardrails_json = "{}";
  std::string vault_id;  // credential_source vault_ref
  std::string path;
  bool is_active = true;
  std::string created_by;  // user id
  UnixMicros created_at = 0;
  UnixMicros updated_at = 0;
};

// One call made through a binding (execute or proxy). Never a body, header value or secret.
struct ExecutionRecord {
  std::string id;  // UUID
  std::string agent_id;
  std::string binding_id;
  std::string binding_name;
  std::string intent_type = "http";
  std::string mode = "vault";  // "vault" (POST …/execute, MCP) or "proxy" (/v1/proxy)
  std::string status;  // "success" (upstream answered), "error" (no answer), "denied", "cancelled"
  std::string method;
  std::string path;         // the upstream path asked for, without the query
  int upstream_status = 0;  // 0: none
  int64_t secret_version = 0;
  int64_t duration_ms = 0;
  int64_t request_bytes = 0;
  int64_t response_bytes = 0;
  int64_t redactions = 0;
  std::string error_message;  // never a value
  UnixMicros created_at = 0;
};

}  // namespace coffer
