// MCP over JSON-RPC 2.0: initialize (version negotiation, capabilities {tools}), ping,
// tools/list (a JSON Schema for every tool's input) and tools/call (results as text content;
// API failures as isError results carrying the problem's detail). The methods and the tools are
// tables: one row each, read by both the listing and the dispatch.
#include "agent/mcp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <expected>
#include <vector>

#include "agent/mcp_tools.h"
#include "client/env_bundle.h"
#include "client/wiping_json.h"
#include "common/version.h"

namespace coffer::agent {
namespace {

namespace json = boost::json;
using client::CofferClient;
using client::WipedJson;

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

using mcp::Args;
using mcp::kPathProp;
using mcp::kTypeEnum;
using mcp::kVaultProp;
using mcp::ObjectSchema;
using mcp::SecretProps;
using mcp::SecretTarget;
using mcp::SetList;
using mcp::SetPlain;
using mcp::Target;
using mcp::Tool;
using mcp::VaultId;

// --- the JSON Schemas of the tools' inputs

// The "type" property: one of the secret types, with this description (none when empty).
std::string TypeProp(std::string_view description) {
  return fmt::format(
      R"j("type":{{"type":"string","enum":{}{}}})j", kTypeEnum,
      description.empty() ? "" : fmt::format(R"j(,"description":"{}")j", description));
}

// What a method works with: the API client, and the vault tools use when none is named.
struct Session {
  CofferClient& client;
  std::string_view default_vault;
};

// A share link's default number of redemptions (share_secret without max_access_count).
constexpr int64_t kDefaultShareAccesses = 5;

// --- answers

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

SecretBuffer ResultAnswer(const json::value& id, json::value result) {
  json::object o = Response(id);
  o["result"] = std::move(result);
  return Serialize(o);
}

const json::object& EmptyObject() {
  static const json::object kEmpty;
  return kEmpty;
}

Status ListVaults(CofferClient& c, const Args& /*args*/, WipedJson& doc) {
  ASSIGN_OR_RETURN(auto vaults, c.ListVaults());
  return SetList(doc, "vaults", vaults);
}

Status ListSecrets(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, args));
  ASSIGN_OR_RETURN(std::string prefix, args.String("prefix", false));
  ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(vault_id, prefix));
  return SetList(doc, "secrets", secrets);
}

Status GetSecret(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(auto version, args.Integer("version", false));
  ASSIGN_OR_RETURN(client::SecretValue secret,
                   version.has_value() ? c.GetSecretVersion(t.vault_id, t.path, *version)
                                       : c.GetSecret(t.vault_id, t.path));
  json::object o(doc.storage());
  for (const auto& kv : secret.meta.json) o[kv.key()] = kv.value();
  o["value"] = json::string(secret.value.view(), doc.storage());
  doc.value() = std::move(o);
  return OkStatus();
}

Status PutSecret(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
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
  ASSIGN_OR_RETURN(client::SecretMeta meta, c.PutSecret(t.vault_id, t.path, std::move(input)));
  return SetPlain(doc, meta.json);
}

Status RotateSecret(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  client::RotateSecretInput input;
  ASSIGN_OR_RETURN(input.length, args.Integer("length", false));
  ASSIGN_OR_RETURN(std::string charset, args.String("charset", false));
  if (!charset.empty()) input.charset = charset;
  ASSIGN_OR_RETURN(std::string type, args.String("type", false));
  if (!type.empty()) input.type = type;
  ASSIGN_OR_RETURN(client::SecretMeta meta, c.RotateSecret(t.vault_id, t.path, input));
  return SetPlain(doc, meta.json);
}

Status ListVersions(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(client::VersionList list, c.ListVersions(t.vault_id, t.path));
  return SetPlain(doc, list.json);
}

Status DisableVersion(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(auto version, args.Integer("version", true));
  ASSIGN_OR_RETURN(client::SecretMeta meta, c.DisableVersion(t.vault_id, t.path, *version));
  return SetPlain(doc, meta.json);
}

Status DescribeSecret(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  // The listing's entry for exactly this path: metadata without reading the value, so a describe
  // neither spends a one-time secret nor needs the read permission.
  ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(t.vault_id, t.path));
  for (const client::SecretMeta& meta : secrets) {
    if (meta.path == t.path) return SetPlain(doc, meta.json);
  }
  return NotFoundError(fmt::format("no secret at '{}'", t.path));
}

Status DeleteSecret(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  RETURN_IF_ERROR(c.DeleteSecret(t.vault_id, t.path));
  return SetPlain(doc, json::object{{"path", t.path}, {"deleted", true}});
}

Status GetEnvBundle(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(SecretTarget t, Target(c, args));
  ASSIGN_OR_RETURN(client::SecretValue secret, c.GetSecret(t.vault_id, t.path));
  ASSIGN_OR_RETURN(std::vector<client::EnvEntry> entries,
                   client::ParseEnvBundle(secret.value.view()));
  json::object o(doc.storage());
  for (const client::EnvEntry& e : entries) {
    o[e.name] = json::string(e.value.view(), doc.storage());
  }
  doc.value() = std::move(o);
  return OkStatus();
}

Status CreateVault(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(std::string name, args.String("name", true));
  ASSIGN_OR_RETURN(std::string description, args.String("description", false));
  ASSIGN_OR_RETURN(client::Vault vault, c.CreateVault(name, description));
  return SetPlain(doc, vault.json);
}

Status GrantAccess(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(std::string vault, args.String("vault_id", true));
  ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
  client::PolicyInput input;
  ASSIGN_OR_RETURN(input.principal_type, args.String("principal_type", true));
  ASSIGN_OR_RETURN(input.principal_id, args.String("principal_id", true));
  ASSIGN_OR_RETURN(input.permissions, args.Strings("permissions", {"read"}));
  ASSIGN_OR_RETURN(input.secret_path_pattern, args.String("secret_path_pattern", false));
  if (input.secret_path_pattern.empty()) input.secret_path_pattern = "**";
  ASSIGN_OR_RETURN(std::string expires, args.String("expires_at", false));
  if (!expires.empty()) input.expires_at = expires;
  ASSIGN_OR_RETURN(client::Policy policy, c.CreatePolicy(vault_id, input));
  return SetPlain(doc, policy.json);
}

Status ShareSecret(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(std::string secret_id, args.String("secret_id", true));
  client::ShareInput input;
  ASSIGN_OR_RETURN(input.recipient_type, args.String("recipient_type", true));
  ASSIGN_OR_RETURN(std::string recipient_id, args.String("recipient_id", false));
  if (!recipient_id.empty()) input.recipient_id = recipient_id;
  ASSIGN_OR_RETURN(input.expires_at, args.String("expires_at", true));
  ASSIGN_OR_RETURN(input.max_access_count, args.Integer("max_access_count", false));
  if (!input.max_access_count.has_value()) input.max_access_count = kDefaultShareAccesses;
  ASSIGN_OR_RETURN(WipedJson share, c.ShareSecret(secret_id, input));
  doc = std::move(share);  // it holds the link (a capability): wiped memory all the way
  return OkStatus();
}

// --- the tools: one row each, in the order tools/list shows them

// The tools in the order tools/list shows them: these, then the lifecycle's and the gateway's.
std::vector<Tool> AllTools() {
  std::vector<Tool> tools = {
      {"list_vaults", "List vaults", "List the vaults this token can see (id, name, description).",
       true, false, ObjectSchema("", ""), ListVaults},
      {"list_secrets", "List secrets",
       "List the secrets of a vault: paths, types, versions and metadata, never values.", true,
       false,
       ObjectSchema(std::string(kVaultProp) +
                        R"j(,"prefix":{"type":"string",)j"
                        R"j("description":"Only paths starting with this, e.g. api-keys/"})j",
                    R"j("vault")j"),
       ListSecrets},
      {"get_secret", "Read a secret",
       "Read a secret's value and metadata: the latest readable version, or the given version. "
       "Counts as an access (one-time secrets are spent).",
       true, false,
       ObjectSchema(
           SecretProps(R"j(,"version":{"type":"integer","minimum":1,)j"
                       R"j("description":"A specific version (default: the latest readable)"})j"),
           R"j("vault","path")j"),
       GetSecret},
      {"put_secret", "Store a secret",
       "Store a new version of a secret (creating it if needed). Returns metadata, never the "
       "value.",
       false, false,
       ObjectSchema(
           SecretProps(
               R"j(,"value":{"type":"string","minLength":1,"description":"The secret value"},)j" +
               TypeProp("Secret type (default password)") +
               R"j(,"metadata":{"type":"object","description":"Free-form metadata"},)j"
               R"j("expires_at":{"type":"string","format":"date-time",)j"
               R"j("description":"RFC 3339 time after which reads fail"},)j"
               R"j("max_access_count":{"type":"integer","minimum":0,)j"
               R"j("description":"Reads allowed (0: unlimited)"})j"),
           R"j("vault","path","value")j"),
       PutSecret},
      {"rotate_secret", "Rotate a secret",
       "Store a new server-generated random value as the next version. The value is not "
       "returned; read it with get_secret if needed.",
       false, false,
       ObjectSchema(
           SecretProps(
               R"j(,"length":{"type":"integer","minimum":8,"maximum":1024,)j"
               R"j("description":"Length of the value (default 32)"},)j"
               R"j("charset":{"type":"string","enum":["hex","base64","alphanumeric","ascii"],)j"
               R"j("description":"Characters to draw from (default hex)"},)j" +
               TypeProp("")),
           R"j("vault","path")j"),
       RotateSecret},
      {"list_versions", "List versions",
       "List every version of a secret, newest first, with is_disabled.", true, false,
       ObjectSchema(SecretProps(), R"j("vault","path")j"), ListVersions},
      {"disable_version", "Disable a version",
       "Disable one version of a secret: reads of it fail from then on; the record is kept for "
       "audit.",
       false, true,
       ObjectSchema(SecretProps(R"j(,"version":{"type":"integer","minimum":1,)j"
                                R"j("description":"Version number"})j"),
                    R"j("vault","path","version")j"),
       DisableVersion},
      {"describe_secret", "Describe a secret",
       "A secret's metadata (type, version, expiry, access count) without its value; does not "
       "count as an access.",
       true, false, ObjectSchema(SecretProps(), R"j("vault","path")j"), DescribeSecret},
      {"delete_secret", "Delete a secret",
       "Delete a secret and all its versions; reads of it fail from then on.", false, true,
       ObjectSchema(SecretProps(), R"j("vault","path")j"), DeleteSecret},
      {"get_env_bundle", "Read an env bundle",
       "Read an env_bundle secret (KEY=VALUE lines; blank lines and # comments skipped) as one "
       "JSON object of variables. Counts as an access.",
       true, false, ObjectSchema(SecretProps(), R"j("vault","path")j"), GetEnvBundle},
      {"create_vault", "Create a vault",
       "Create a vault (names are unique, without regard to case).", false, false,
       ObjectSchema(R"j("name":{"type":"string","minLength":1,"description":"Vault name"},)j"
                    R"j("description":{"type":"string","description":"What the vault is for"})j",
                    R"j("name")j"),
       CreateVault},
      {"grant_access", "Grant access",
       "Create a policy giving a user or agent permissions on the secrets of a vault whose paths "
       "match a glob.",
       false, false,
       ObjectSchema(
           R"j("vault_id":{"type":"string","minLength":1,"description":"Vault id or name"},)j"
           R"j("principal_type":{"type":"string","enum":["user","agent"]},)j"
           R"j("principal_id":{"type":"string","minLength":1,)j"
           R"j("description":"Id of the user or agent"},)j"
           R"j("permissions":{"type":"array","items":{"type":"string",)j"
           R"j("enum":["read","write","rotate","delete","list","use"]},)j"
           R"j("description":"Default: read only"},)j"
           R"j("secret_path_pattern":{"type":"string",)j"
           R"j("description":"Glob of secret paths (default ** : every secret)"},)j"
           R"j("expires_at":{"type":"string","format":"date-time",)j"
           R"j("description":"RFC 3339 time after which the policy no longer applies"})j",
           R"j("vault_id","principal_type","principal_id")j"),
       GrantAccess},
      {"share_secret", "Share a secret",
       "Share a secret by its id (the id field of list_secrets or describe_secret). "
       "recipient_type anyone_with_link answers a share_url that reveals the value, without "
       "authentication, up to max_access_count times until expires_at.",
       false, false,
       ObjectSchema(
           R"j("secret_id":{"type":"string","minLength":1,"description":"The secret's id"},)j"
           R"j("recipient_type":{"type":"string",)j"
           R"j("enum":["anyone_with_link","user","agent","creator","external_email"]},)j"
           R"j("recipient_id":{"type":"string","description":"For user or agent recipients"},)j"
           R"j("expires_at":{"type":"string","format":"date-time",)j"
           R"j("description":"RFC 3339 time after which the share is refused"},)j"
           R"j("max_access_count":{"type":"integer","minimum":1,)j"
           R"j("description":"How many times the share may be redeemed (default 5)"})j",
           R"j("secret_id","recipient_type","expires_at")j"),
       ShareSecret},
  };
  const std::vector<Tool>& lifecycle = mcp::LifecycleTools();
  tools.insert(tools.end(), lifecycle.begin(), lifecycle.end());
  const std::vector<Tool>& gateway = mcp::GatewayTools();
  tools.insert(tools.end(), gateway.begin(), gateway.end());
  return tools;
}

const std::vector<Tool>& Tools() {
  static const std::vector<Tool> kTools = AllTools();
  return kTools;
}

const Tool* FindTool(std::string_view name) {
  for (const Tool& tool : Tools()) {
    if (tool.name == name) return &tool;
  }
  return nullptr;
}

// --- the methods: each answers a request with `id` and `params`

SecretBuffer Initialize(const Session& /*session*/, const json::value& id,
                        const json::object& params) {
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
      json::object{{"name", "coffer"}, {"title", "Coffer secrets vault"}, {"version", Version()}};
  result["instructions"] =
      "Coffer keeps secrets (API keys, passwords, certificates) in vaults. Name a vault by its "
      "name or id and a secret by its path (segments of letters, digits, '-' and '_' joined by "
      "'/'). Values are returned only by get_secret; prefer rotate_secret over inventing "
      "values. To call an API with a credential you are not given, use execute_http with one "
      "of the bindings list_bindings shows.";
  return ResultAnswer(id, std::move(result));
}

SecretBuffer Ping(const Session& /*session*/, const json::value& id,
                  const json::object& /*params*/) {
  return ResultAnswer(id, json::object());
}

SecretBuffer ListTools(const Session& session, const json::value& id,
                       const json::object& /*params*/) {
  json::array tools;
  for (const Tool& tool : Tools()) {
    json::object t;
    t["name"] = tool.name;
    t["title"] = tool.title;
    t["description"] = tool.description;
    json::value schema = json::parse(tool.input_schema);
    json::value* required = schema.as_object().if_contains("required");
    if (required != nullptr && !session.default_vault.empty()) {
      json::array& names = required->as_array();  // "vault" is given by --vault
      names.erase(std::remove(names.begin(), names.end(), json::value("vault")), names.end());
    }
    t["inputSchema"] = std::move(schema);
    t["annotations"] = json::object{{"readOnlyHint", tool.read_only},
                                    {"destructiveHint", tool.destructive},
                                    {"openWorldHint", false}};
    tools.push_back(std::move(t));
  }
  return ResultAnswer(id, json::object{{"tools", std::move(tools)}});
}

// A tool's outcome as a tools/call result: its JSON as text content, or its failure's message
// with isError.
SecretBuffer ToolResult(const json::value& id, const Status& s, const WipedJson& result_doc) {
  WipedJson answer;
  json::object result(answer.storage());
  json::object text(answer.storage());
  text["type"] = "text";
  if (s.ok()) {
    SecretBuffer body = result_doc.Serialize();
    text["text"] = json::string(body.view(), answer.storage());
  } else {
    text["text"] = json::string(s.message(), answer.storage());
    result["isError"] = true;
  }
  json::array content(answer.storage());
  content.push_back(std::move(text));
  result["content"] = std::move(content);
  json::object o(answer.storage());
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  o["result"] = std::move(result);
  answer.value() = std::move(o);
  return answer.Serialize();
}

SecretBuffer CallTool(const Session& session, const json::value& id, const json::object& params) {
  const json::value* name = params.if_contains("name");
  if (name == nullptr || !name->is_string()) {
    return ErrorAnswer(id, kInvalidParams, "Invalid params: tools/call needs a tool name");
  }
  const Tool* tool = FindTool(name->as_string());
  if (tool == nullptr) {
    return ErrorAnswer(id, kInvalidParams,
                       fmt::format("Unknown tool: {}", std::string_view(name->as_string())));
  }
  const json::value* arguments = params.if_contains("arguments");
  if (arguments != nullptr && !arguments->is_null() && !arguments->is_object()) {
    return ErrorAnswer(id, kInvalidParams, "Invalid params: arguments must be an object");
  }
  const json::object& args =
      arguments != nullptr && arguments->is_object() ? arguments->as_object() : EmptyObject();
  WipedJson result_doc;
  Status s = tool->call(session.client, Args(args, session.default_vault), result_doc);
  return ToolResult(id, s, result_doc);
}

struct Method {
  std::string_view name;
  SecretBuffer (*answer)(const Session& session, const json::value& id, const json::object& params);
};

constexpr Method kMethods[] = {
    {"initialize", Initialize},
    {"ping", Ping},
    {"tools/list", ListTools},
    {"tools/call", CallTool},
};

// --- the envelope

// A message whose envelope is well formed.
struct Request {
  bool notification;  // no id: nothing is answered
  json::value id;     // null for a notification
  std::string method;
  const json::object* params;  // empty when absent
};

// What to answer instead of handling a message (nullopt: nothing).
using Refusal = std::optional<SecretBuffer>;

// Checks the JSON-RPC 2.0 envelope: the request, or the refusal to send.
std::expected<Request, Refusal> ReadRequest(const json::value& message) {
  if (!message.is_object()) {
    return std::unexpected(
        ErrorAnswer(nullptr, kInvalidRequest,
                    "Invalid Request: a message is one JSON object (batches are not supported)"));
  }
  const json::object& msg = message.as_object();
  const json::value* id_ptr = msg.if_contains("id");
  const json::value id = id_ptr != nullptr ? json::value(*id_ptr, json::storage_ptr()) : nullptr;
  const json::value* method = msg.if_contains("method");
  const json::value* version = msg.if_contains("jsonrpc");
  if (method == nullptr) {
    // A response to a request we never send, or garbage without an id: nothing to answer.
    if (id_ptr == nullptr || msg.contains("result") || msg.contains("error")) {
      return std::unexpected(std::nullopt);
    }
    return std::unexpected(ErrorAnswer(id, kInvalidRequest, "Invalid Request: no method"));
  }
  if (version == nullptr || !version->is_string() || version->as_string() != "2.0" ||
      !method->is_string() ||
      (id_ptr != nullptr && !id_ptr->is_string() && !id_ptr->is_int64() && !id_ptr->is_uint64())) {
    if (id_ptr == nullptr) return std::unexpected(std::nullopt);
    return std::unexpected(
        ErrorAnswer(id, kInvalidRequest, "Invalid Request: jsonrpc \"2.0\", method and id"));
  }
  const json::value* params = msg.if_contains("params");
  if (params != nullptr && !params->is_object()) {
    if (id_ptr == nullptr) return std::unexpected(std::nullopt);
    return std::unexpected(
        ErrorAnswer(id, kInvalidParams, "Invalid params: params must be an object"));
  }
  return Request{.notification = id_ptr == nullptr,
                 .id = id,
                 .method = std::string(method->as_string()),
                 .params = params != nullptr ? &params->as_object() : &EmptyObject()};
}

}  // namespace

McpServer::McpServer(CofferClient& client, std::string default_vault)
    : client_(client), default_vault_(std::move(default_vault)) {}

SecretBuffer McpServer::TooLargeAnswer(size_t max_bytes) {
  return ErrorAnswer(nullptr, kInvalidRequest,
                     fmt::format("Invalid Request: the message is larger than {} bytes, the most "
                                 "this server accepts; it was discarded",
                                 max_bytes));
}

std::optional<SecretBuffer> McpServer::HandleMessage(std::string_view line) {
  auto parsed = WipedJson::Parse(line);
  if (!parsed.has_value()) return ErrorAnswer(nullptr, kParseError, "Parse error");
  auto request = ReadRequest(parsed->value());
  if (!request.has_value()) return std::move(request.error());
  if (request->notification) {
    // notifications/initialized, notifications/cancelled, … need no answer.
    if (request->method == "notifications/initialized") initialized_ = true;
    return std::nullopt;
  }
  for (const Method& m : kMethods) {
    if (m.name == request->method) {
      return m.answer(Session{client_, default_vault_}, request->id, *request->params);
    }
  }
  return ErrorAnswer(request->id, kMethodNotFound,
                     fmt::format("Method not found: {}", request->method));
}

}  // namespace coffer::agent
