// MCP over JSON-RPC 2.0: initialize (version negotiation, capabilities {tools}), ping,
// tools/list (a JSON Schema for every tool's input) and tools/call (results as text content;
// API failures as isError results carrying the problem's detail).
#include "agent/mcp_server.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>

#include "client/wiping_json.h"

namespace coffer::agent {
namespace {

namespace json = boost::json;
using client::CofferClient;
using client::WipedJson;

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

constexpr std::string_view kTypeEnum =
    R"j(["password","api_key","private_key","certificate","file","note","ssh_key","env_bundle"])j";

struct Tool {
  std::string_view name;
  std::string_view title;
  std::string_view description;
  bool read_only;
  bool destructive;
};

const std::string& VaultPathProps() {
  static const std::string kProps =
      R"j("vault":{"type":"string","minLength":1,"description":"Vault name or id"},)j"
      R"j("path":{"type":"string","minLength":1,"description":"Secret path, e.g. api-keys/openai"})j";
  return kProps;
}

const std::vector<std::pair<Tool, std::string>>& Tools() {
  static const std::vector<std::pair<Tool, std::string>> kTools = [] {
    std::vector<std::pair<Tool, std::string>> t;
    t.push_back({{"list_vaults", "List vaults",
                  "List the vaults this token can see (id, name, description).", true, false},
                 R"j({"type":"object","properties":{},"additionalProperties":false})j"});
    t.push_back({{"list_secrets", "List secrets",
                  "List the secrets of a vault: paths, types, versions and metadata, never values.",
                  true, false},
                 R"j({"type":"object","properties":{"vault":{"type":"string","minLength":1,)j"
                 R"j("description":"Vault name or id"},"prefix":{"type":"string",)j"
                 R"j("description":"Only paths starting with this, e.g. api-keys/"}},)j"
                 R"j("required":["vault"],"additionalProperties":false})j"});
    t.push_back({{"get_secret", "Read a secret",
                  "Read a secret's value and metadata: the latest readable version, or the "
                  "given version. Counts as an access (one-time secrets are spent).",
                  true, false},
                 "{\"type\":\"object\",\"properties\":{" + VaultPathProps() +
                     R"j(,"version":{"type":"integer","minimum":1,)j"
                     R"j("description":"A specific version (default: the latest readable)"}},)j"
                     R"j("required":["vault","path"],"additionalProperties":false})j"});
    t.push_back(
        {{"put_secret", "Store a secret",
          "Store a new version of a secret (creating it if needed). Returns metadata, "
          "never the value.",
          false, false},
         "{\"type\":\"object\",\"properties\":{" + VaultPathProps() +
             R"j(,"value":{"type":"string","minLength":1,"description":"The secret value"},)j"
             R"j("type":{"type":"string","enum":)j" +
             std::string(kTypeEnum) +
             R"j(,"description":"Secret type (default password)"},)j"
             R"j("metadata":{"type":"object","description":"Free-form metadata"},)j"
             R"j("expires_at":{"type":"string","format":"date-time",)j"
             R"j("description":"RFC 3339 time after which reads fail"},)j"
             R"j("max_access_count":{"type":"integer","minimum":0,)j"
             R"j("description":"Reads allowed (0: unlimited)"}},)j"
             R"j("required":["vault","path","value"],"additionalProperties":false})j"});
    t.push_back(
        {{"rotate_secret", "Rotate a secret",
          "Store a new server-generated random value as the next version. The value is "
          "not returned; read it with get_secret if needed.",
          false, false},
         "{\"type\":\"object\",\"properties\":{" + VaultPathProps() +
             R"j(,"length":{"type":"integer","minimum":8,"maximum":1024,)j"
             R"j("description":"Length of the value (default 32)"},)j"
             R"j("charset":{"type":"string","enum":["hex","base64","alphanumeric","ascii"],)j"
             R"j("description":"Characters to draw from (default hex)"},)j"
             R"j("type":{"type":"string","enum":)j" +
             std::string(kTypeEnum) + "}}," +
             R"j("required":["vault","path"],"additionalProperties":false})j"});
    t.push_back({{"list_versions", "List versions",
                  "List every version of a secret, newest first, with is_disabled.", true, false},
                 "{\"type\":\"object\",\"properties\":{" + VaultPathProps() + "}," +
                     R"j("required":["vault","path"],"additionalProperties":false})j"});
    t.push_back(
        {{"disable_version", "Disable a version",
          "Disable one version of a secret: reads of it fail from then on; the record "
          "is kept for audit.",
          false, true},
         "{\"type\":\"object\",\"properties\":{" + VaultPathProps() +
             R"j(,"version":{"type":"integer","minimum":1,"description":"Version number"}},)j"
             R"j("required":["vault","path","version"],"additionalProperties":false})j"});
    return t;
  }();
  return kTools;
}

json::object Response(const json::value& id) {
  json::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  return o;
}

SecretBuffer Serialize(const json::value& v) { return SecretBuffer(json::serialize(v)); }

SecretBuffer ErrorAnswer(const json::value& id, int code, std::string_view message) {
  json::object o = Response(id);
  o["error"] = json::object{{"code", code}, {"message", message}};
  return Serialize(o);
}

// A tool's arguments, checked by type as the schema says.
class Args {
 public:
  explicit Args(const json::object& o) : o_(o) {}

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

 private:
  const json::object& o_;
};

}  // namespace

McpServer::McpServer(CofferClient& client) : client_(client) {}

namespace {

// Runs a tool. The result text goes into `doc` (wiped memory: it may hold a secret value).
Status CallTool(CofferClient& c, std::string_view name, const Args& args, WipedJson& doc) {
  auto vault_id = [&]() -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::string vault, args.String("vault", true));
    return c.ResolveVault(vault);
  };
  auto set_plain = [&](const json::value& v) { doc.value() = json::value(v, doc.storage()); };
  if (name == "list_vaults") {
    ASSIGN_OR_RETURN(auto vaults, c.ListVaults());
    json::array items;
    for (const auto& v : vaults) items.push_back(v.json);
    set_plain(json::object{{"vaults", std::move(items)}});
    return OkStatus();
  }
  ASSIGN_OR_RETURN(std::string vid, vault_id());
  if (name == "list_secrets") {
    ASSIGN_OR_RETURN(std::string prefix, args.String("prefix", false));
    ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(vid, prefix));
    json::array items;
    for (const auto& s : secrets) items.push_back(s.json);
    set_plain(json::object{{"secrets", std::move(items)}});
    return OkStatus();
  }
  ASSIGN_OR_RETURN(std::string path, args.String("path", true));
  if (name == "get_secret") {
    ASSIGN_OR_RETURN(auto version, args.Integer("version", false));
    ASSIGN_OR_RETURN(client::SecretValue secret, version.has_value()
                                                     ? c.GetSecretVersion(vid, path, *version)
                                                     : c.GetSecret(vid, path));
    json::object o(doc.storage());
    for (const auto& kv : secret.meta.json) o[kv.key()] = kv.value();
    o["value"] = json::string(secret.value.view(), doc.storage());
    doc.value() = std::move(o);
    return OkStatus();
  }
  if (name == "put_secret") {
    client::PutSecretInput input;
    ASSIGN_OR_RETURN(std::string type, args.String("type", false));
    input.type = type.empty() ? "password" : type;
    const json::value* value = args.Raw("value");
    if (value == nullptr || !value->is_string() || value->as_string().empty()) {
      return InvalidArgumentError("'value' is required (a non-empty string)");
    }
    input.value = SecretBuffer(std::string_view(value->as_string()));
    if (const json::value* m = args.Raw("metadata"); m != nullptr && !m->is_null()) {
      if (!m->is_object()) return InvalidArgumentError("'metadata' must be an object");
      input.metadata_json = json::serialize(*m);
    }
    ASSIGN_OR_RETURN(std::string expires, args.String("expires_at", false));
    if (!expires.empty()) input.expires_at = expires;
    ASSIGN_OR_RETURN(input.max_access_count, args.Integer("max_access_count", false));
    ASSIGN_OR_RETURN(client::SecretMeta meta, c.PutSecret(vid, path, std::move(input)));
    set_plain(meta.json);
    return OkStatus();
  }
  if (name == "rotate_secret") {
    client::RotateSecretInput input;
    ASSIGN_OR_RETURN(input.length, args.Integer("length", false));
    ASSIGN_OR_RETURN(std::string charset, args.String("charset", false));
    if (!charset.empty()) input.charset = charset;
    ASSIGN_OR_RETURN(std::string type, args.String("type", false));
    if (!type.empty()) input.type = type;
    ASSIGN_OR_RETURN(client::SecretMeta meta, c.RotateSecret(vid, path, input));
    set_plain(meta.json);
    return OkStatus();
  }
  if (name == "list_versions") {
    ASSIGN_OR_RETURN(client::VersionList list, c.ListVersions(vid, path));
    set_plain(list.json);
    return OkStatus();
  }
  if (name == "disable_version") {
    ASSIGN_OR_RETURN(auto version, args.Integer("version", true));
    ASSIGN_OR_RETURN(client::SecretMeta meta, c.DisableVersion(vid, path, *version));
    set_plain(meta.json);
    return OkStatus();
  }
  return InvalidArgumentError(fmt::format("unknown tool {}", name));
}

}  // namespace

SecretBuffer McpServer::TooLargeAnswer(size_t max_bytes) {
  return ErrorAnswer(nullptr, kInvalidRequest,
                     fmt::format("Invalid Request: the message is larger than {} bytes, the most "
                                 "this server accepts; it was discarded",
                                 max_bytes));
}

std::optional<SecretBuffer> McpServer::HandleMessage(std::string_view line) {
  WipedJson request;
  {
    auto parsed = WipedJson::Parse(line);
    if (!parsed.has_value()) return ErrorAnswer(nullptr, kParseError, "Parse error");
    request = std::move(*parsed);
  }
  if (!request.value().is_object()) {
    return ErrorAnswer(nullptr, kInvalidRequest,
                       "Invalid Request: a message is one JSON object (batches are not supported)");
  }
  const json::object& msg = request.value().as_object();
  const json::value* id_ptr = msg.if_contains("id");
  const json::value id = id_ptr != nullptr ? json::value(*id_ptr, json::storage_ptr()) : nullptr;
  const json::value* method_ptr = msg.if_contains("method");
  const json::value* version = msg.if_contains("jsonrpc");
  if (method_ptr == nullptr) {
    // A response to a request we never send, or garbage without an id: nothing to answer.
    if (id_ptr == nullptr || msg.contains("result") || msg.contains("error")) return std::nullopt;
    return ErrorAnswer(id, kInvalidRequest, "Invalid Request: no method");
  }
  if (version == nullptr || !version->is_string() || version->as_string() != "2.0" ||
      !method_ptr->is_string() ||
      (id_ptr != nullptr && !id_ptr->is_string() && !id_ptr->is_int64() && !id_ptr->is_uint64())) {
    if (id_ptr == nullptr) return std::nullopt;
    return ErrorAnswer(id, kInvalidRequest, "Invalid Request: jsonrpc \"2.0\", method and id");
  }
  const std::string method(method_ptr->as_string());
  const json::value* params_ptr = msg.if_contains("params");
  if (params_ptr != nullptr && !params_ptr->is_object()) {
    if (id_ptr == nullptr) return std::nullopt;
    return ErrorAnswer(id, kInvalidParams, "Invalid params: params must be an object");
  }
  static const json::object kEmpty;
  const json::object& params = params_ptr != nullptr ? params_ptr->as_object() : kEmpty;

  if (id_ptr == nullptr) {
    // Notifications: notifications/initialized, notifications/cancelled, … need no answer.
    if (method == "notifications/initialized") initialized_ = true;
    return std::nullopt;
  }

  if (method == "initialize") {
    std::string_view chosen = kMcpProtocolVersions[0];
    if (const json::value* v = params.if_contains("protocolVersion");
        v != nullptr && v->is_string()) {
      for (std::string_view known : kMcpProtocolVersions) {
        if (v->as_string() == known) chosen = known;
      }
    }
    json::object result;
    result["protocolVersion"] = chosen;
    result["capabilities"] = json::object{{"tools", json::object{{"listChanged", false}}}};
    result["serverInfo"] =
        json::object{{"name", "coffer"}, {"title", "Coffer secrets vault"}, {"version", "0.1.0"}};
    result["instructions"] =
        "Coffer keeps secrets (API keys, passwords, certificates) in vaults. Name a vault by its "
        "name or id and a secret by its path (segments of letters, digits, '-' and '_' joined by "
        "'/'). Values are returned only by get_secret; prefer rotate_secret over inventing "
        "values.";
    json::object o = Response(id);
    o["result"] = std::move(result);
    return Serialize(o);
  }
  if (method == "ping") {
    json::object o = Response(id);
    o["result"] = json::object();
    return Serialize(o);
  }
  if (method == "tools/list") {
    json::array tools;
    for (const auto& [tool, schema] : Tools()) {
      json::object t;
      t["name"] = tool.name;
      t["title"] = tool.title;
      t["description"] = tool.description;
      t["inputSchema"] = json::parse(schema);
      t["annotations"] = json::object{{"readOnlyHint", tool.read_only},
                                      {"destructiveHint", tool.destructive},
                                      {"openWorldHint", false}};
      tools.push_back(std::move(t));
    }
    json::object o = Response(id);
    o["result"] = json::object{{"tools", std::move(tools)}};
    return Serialize(o);
  }
  if (method == "tools/call") {
    const json::value* name = params.if_contains("name");
    if (name == nullptr || !name->is_string()) {
      return ErrorAnswer(id, kInvalidParams, "Invalid params: tools/call needs a tool name");
    }
    bool known = false;
    for (const auto& [tool, schema] : Tools()) known = known || tool.name == name->as_string();
    if (!known) {
      return ErrorAnswer(id, kInvalidParams,
                         fmt::format("Unknown tool: {}", std::string_view(name->as_string())));
    }
    const json::value* arguments = params.if_contains("arguments");
    if (arguments != nullptr && !arguments->is_null() && !arguments->is_object()) {
      return ErrorAnswer(id, kInvalidParams, "Invalid params: arguments must be an object");
    }
    const json::object& args =
        arguments != nullptr && arguments->is_object() ? arguments->as_object() : kEmpty;
    WipedJson result_doc;
    Status s = CallTool(client_, name->as_string(), Args(args), result_doc);
    WipedJson answer;
    json::object o(answer.storage());
    o["jsonrpc"] = "2.0";
    o["id"] = id;
    json::object result(answer.storage());
    json::array content(answer.storage());
    json::object text(answer.storage());
    text["type"] = "text";
    if (s.ok()) {
      SecretBuffer body = result_doc.Serialize();
      text["text"] = json::string(body.view(), answer.storage());
    } else {
      text["text"] = json::string(s.message(), answer.storage());
      result["isError"] = true;
    }
    content.push_back(std::move(text));
    result["content"] = std::move(content);
    if (!s.ok()) result["isError"] = true;
    o["result"] = std::move(result);
    answer.value() = std::move(o);
    return answer.Serialize();
  }
  return ErrorAnswer(id, kMethodNotFound, fmt::format("Method not found: {}", method));
}

}  // namespace coffer::agent
