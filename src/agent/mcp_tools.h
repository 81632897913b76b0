// What the tools of `coffer mcp` share (mcp_server.cc, mcp_lifecycle_tools.cc): the JSON Schema
// pieces of their inputs, their checked arguments, the secret they work on and how a result is
// left in wiped memory, and the row that describes a tool. Internal to agent/.
#pragma once

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/coffer_client.h"
#include "client/wiping_json.h"
#include "common/status.h"

namespace coffer::agent::mcp {

namespace json = boost::json;
using client::CofferClient;
using client::WipedJson;

// --- the JSON Schemas of the tools' inputs

inline constexpr std::string_view kTypeEnum =
    R"j(["password","api_key","private_key","certificate","file","note","ssh_key","env_bundle","generic","env"])j";
inline constexpr std::string_view kVaultProp =
    R"j("vault":{"type":"string","minLength":1,"description":"Vault name or id"})j";
inline constexpr std::string_view kPathProp =
    R"j("path":{"type":"string","minLength":1,"description":"Secret path, e.g. api-keys/openai"})j";

// An object schema with these properties (JSON members, joined) and required names (quoted,
// joined; none: no "required"), and nothing else allowed.
std::string ObjectSchema(std::string_view properties, std::string_view required);

// The properties of a tool on one secret: vault, path, then `more`.
std::string SecretProps(std::string_view more = "");

// A tool's arguments, checked by type as the schema says.
class Args {
 public:
  Args(const json::object& o, std::string_view default_vault)
      : o_(o), default_vault_(default_vault) {}

  // The vault `coffer mcp --vault` names, used when a tool's "vault" is not given (empty: none).
  std::string_view default_vault() const { return default_vault_; }

  StatusOr<std::string> String(std::string_view key, bool required) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return Err(InvalidArgumentError(fmt::format("'{}' is required", key)));
      return std::string();
    }
    if (!v->is_string() || (required && v->as_string().empty())) {
      return Err(InvalidArgumentError(fmt::format("'{}' must be a non-empty string", key)));
    }
    return std::string(v->as_string());
  }
  StatusOr<std::optional<int64_t>> Integer(std::string_view key, bool required) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) return Err(InvalidArgumentError(fmt::format("'{}' is required", key)));
      return std::optional<int64_t>();
    }
    if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
    if (v->is_uint64()) return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
    if (v->is_double() &&
        v->as_double() == static_cast<double>(static_cast<int64_t>(v->as_double()))) {
      return std::optional<int64_t>(static_cast<int64_t>(v->as_double()));
    }
    return Err(InvalidArgumentError(fmt::format("'{}' must be an integer", key)));
  }
  const json::value* Raw(std::string_view key) const { return o_.if_contains(key); }

  // An array of non-empty strings (absent: `fallback`).
  StatusOr<std::vector<std::string>> Strings(std::string_view key,
                                             std::vector<std::string> fallback) const {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    const auto refused = [key] {
      return InvalidArgumentError(fmt::format("'{}' must be an array of non-empty strings", key));
    };
    if (!v->is_array()) return Err(refused());
    std::vector<std::string> out;
    for (const json::value& item : v->as_array()) {
      if (!item.is_string() || item.as_string().empty()) return Err(refused());
      out.emplace_back(item.as_string());
    }
    return out;
  }

 private:
  const json::object& o_;
  std::string_view default_vault_;
};

// The secret a tool works on: its vault's id (resolved first), then its path.
struct SecretTarget {
  std::string vault_id;
  std::string path;
};

// The vault the tool names ("vault", a name or id), or else the session's default; resolved to an
// id.
StatusOr<std::string> VaultId(CofferClient& c, const Args& args);
// The vault (as VaultId) and the required "path".
StatusOr<SecretTarget> Target(CofferClient& c, const Args& args);

// Leaves `v` as the tool's result.
Status SetPlain(WipedJson& doc, const json::value& v);

// {key: [each item's json]}
template <typename Items>
Status SetList(WipedJson& doc, std::string_view key, const Items& items) {
  json::array out;
  for (const auto& item : items) out.push_back(item.json);
  return SetPlain(doc, json::object{{key, std::move(out)}});
}

// One tool: what tools/list shows and what tools/call runs.
struct Tool {
  std::string_view name;
  std::string_view title;
  std::string_view description;
  bool read_only;    // annotations.readOnlyHint
  bool destructive;  // annotations.destructiveHint
  std::string input_schema;
  Status (*call)(CofferClient& c, const Args& args, WipedJson& doc);
};

// The tools of a secret's lifecycle (mcp_lifecycle_tools.cc): usage, aliases, promote and
// rollback, rotation schedules; tools/list shows them after the others.
const std::vector<Tool>& LifecycleTools();

// The gateway's tools (mcp_gateway_tools.cc): execute_http and list_bindings, shown last.
const std::vector<Tool>& GatewayTools();

}  // namespace coffer::agent::mcp
