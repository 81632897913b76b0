// A binding's `config` (where and how a credential is sent) and `guardrails` (what an agent may
// send through it): parsed and validated from the JSON the API receives, defaults filled in, and
// written back in one canonical form, which is what the store keeps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gateway/egress_guard.h"

namespace coffer {

inline constexpr int64_t kDefaultBindingRpm = 60;
inline constexpr int64_t kMaxBindingRpm = 100000;
inline constexpr int64_t kDefaultBindingDurationMs = 30000;
inline constexpr int64_t kMinBindingDurationMs = 100;
inline constexpr int64_t kMaxBindingDurationMs = 600000;
inline constexpr int64_t kDefaultMaxRequestBytes = int64_t{1} << 20;
inline constexpr int64_t kDefaultMaxResponseBytes = int64_t{10} << 20;
inline constexpr int64_t kMaxBindingBodyBytes = int64_t{1} << 30;
inline constexpr size_t kMaxBindingExtraHeaders = 32;
inline constexpr size_t kMaxBindingListItems = 64;

struct BindingConfig {
  std::string base_url;  // scheme://host[:port][/path], no query, fragment or user info
  // Its parts, filled in by ParseBindingConfig.
  std::string scheme;                // "https" or "http"
  std::string host;                  // without brackets
  std::string base_path;             // "" or "/v1" (no trailing slash)
  std::string auth_type = "bearer";  // bearer | basic | header | query
  std::string auth_header;           // for header
  std::string auth_prefix;           // default "Bearer " for bearer, "" otherwise
  std::string auth_query_param;      // for query
  std::string basic_user;            // for basic: the user; the secret is then the password
  std::vector<std::pair<std::string, std::string>> headers;  // fixed extras, names lower-case
  std::vector<std::string> pass_response_headers;            // lower-case; `x-*` prefixes end in *
};

struct BindingGuardrails {
  std::vector<std::string> allowed_methods;  // upper-case
  std::vector<std::string> allowed_paths;    // globs over the path after base_url's path
  int64_t max_requests_per_minute = kDefaultBindingRpm;
  std::optional<int64_t> max_requests_per_day;
  int64_t max_duration_ms = kDefaultBindingDurationMs;
  int64_t max_request_bytes = kDefaultMaxRequestBytes;
  int64_t max_response_bytes = kDefaultMaxResponseBytes;
};

// The response headers passed on when a binding does not choose.
const std::vector<std::string>& DefaultPassResponseHeaders();

// Parses a config object ("" means {}; base_url is required). kInvalidArgument whose message
// names the field at fault ("config.base_url must use https"). Plain http is accepted here;
// CheckBindingDestination decides whether it may be used. Thread-safe.
StatusOr<BindingConfig> ParseBindingConfig(std::string_view json);
std::string BindingConfigJson(const BindingConfig& config);

// Parses a guardrails object ("" means {}). kInvalidArgument naming the field at fault.
StatusOr<BindingGuardrails> ParseBindingGuardrails(std::string_view json);
std::string BindingGuardrailsJson(const BindingGuardrails& guardrails);

// OK for https. For http: OK only when every address the host resolves to (getaddrinfo, or the
// literal) lies inside the operator's allow-list; kInvalidArgument naming config.base_url
// otherwise (or when the host does not resolve). May block on DNS.
Status CheckBindingDestination(const BindingConfig& config, const gateway::EgressGuard& guard);

// Whether `path` (the upstream path after base_url's path, without a leading '/') matches a
// guardrail glob: segments split on '/', `*` matches any run within one segment, a `**`
// segment any number of whole segments (zero included). Byte-wise, case-sensitive.
bool BindingPathMatches(std::string_view glob, std::string_view path);

// Whether a response header name (lower-case) is on the pass list.
bool PassesResponseHeader(const std::vector<std::string>& pass, std::string_view name);

}  // namespace coffer
