// The typed calls of CofferClient: build the target and body, send, and read the JSON answer
// into api_types.h structs. Bodies and answers that hold secrets live in wiped memory.
#include "client/coffer_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <type_traits>

#include "client/problem.h"
#include "common/ids.h"

namespace coffer::client {
namespace {

namespace json = boost::json;

// Keys whose values are secrets: never copied out of wiped memory into a struct's `json`.
bool IsSecretKey(std::string_view key) {
  return key == "value" || key == "api_key" || key == "rotation_secret" || key == "apiKey" ||
         key == "rotationSecret" || key == "access_token";
}

// A copy in ordinary memory, without secret fields.
json::object PlainCopy(const json::object& o) {
  json::object out;
  for (const auto& kv : o) {
    if (!IsSecretKey(kv.key())) {
      out[kv.key()] = json::value(kv.value(), json::storage_ptr());
    }
  }
  return out;
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<std::string> OptStr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return std::nullopt;
  }
  return std::string(v->as_string());
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  if (v->is_uint64()) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return 0;
}

std::optional<int64_t> OptInt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !(v->is_int64() || v->is_uint64())) {
    return std::nullopt;
  }
  return Int(o, key);
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

SecretBuffer SecretField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return SecretBuffer();
  }
  return SecretBuffer(std::string_view(v->as_string()));
}

Status Unexpected(std::string_view what) {
  return InternalError(fmt::format("unexpected answer from the server: {}", what));
}

StatusOr<const json::object*> ObjectOf(const WipedJson& doc) {
  if (!doc.value().is_object()) {
    return Err(Unexpected("expected a JSON object"));
  }
  return &doc.value().as_object();
}

StatusOr<const json::array*> ArrayField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) {
    return Err(Unexpected(fmt::format("no '{}' list", key)));
  }
  return &v->as_array();
}

Vault ToVault(const json::object& o) {
  return Vault{.id = Str(o, "id"),
               .name = Str(o, "name"),
               .description = Str(o, "description"),
               .created_by = Str(o, "created_by"),
               .created_at = Str(o, "created_at"),
               .json = PlainCopy(o)};
}

SecretMeta ToSecretMeta(const json::object& o) {
  return SecretMeta{.id = Str(o, "id"),
                    .vault_id = Str(o, "vault_id"),
                    .path = Str(o, "path"),
                    .type = Str(o, "type"),
                    .version = Int(o, "version"),
                    .created_at = Str(o, "created_at"),
                    .expires_at = OptStr(o, "expires_at"),
                    .max_access_count = Int(o, "max_access_count"),
                    .access_count = Int(o, "access_count"),
                    .is_disabled = Bool(o, "is_disabled"),
                    .json = PlainCopy(o)};
}

VersionInfo ToVersion(const json::object& o) {
  return VersionInfo{.version = Int(o, "version"),
                     .type = Str(o, "type"),
                     .is_disabled = Bool(o, "is_disabled"),
                     .disabled_at = OptStr(o, "disabled_at"),
                     .created_at = Str(o, "created_at"),
                     .expires_at = OptStr(o, "expires_at"),
                     .max_access_count = Int(o, "max_access_count"),
                     .access_count = Int(o, "access_count"),
                     .json = PlainCopy(o)};
}

User ToUser(const json::object& o) {
  return User{.id = Str(o, "id"),
              .name = Str(o, "name"),
              .is_admin = Bool(o, "is_admin"),
              .created_at = Str(o, "created_at"),
              .json = PlainCopy(o)};
}

ApiKeyInfo ToApiKey(const json::object& o) {
  return ApiKeyInfo{.id = Str(o, "id"),
                    .name = Str(o, "name"),
                    .created_at = Str(o, "created_at"),
                    .revoked_at = OptStr(o, "revoked_at"),
                    .json = PlainCopy(o)};
}

Agent ToAgent(const json::object& o) {
  return Agent{.id = Str(o, "id"),
               .name = Str(o, "name"),
               .description = Str(o, "description"),
               .created_by = Str(o, "created_by"),
               .created_at = Str(o, "created_at"),
               .is_revoked = Bool(o, "is_revoked"),
               .revoked_at = OptStr(o, "revoked_at"),
               .json = PlainCopy(o)};
}

Policy ToPolicy(const json::object& o) {
  Policy p{.id = Str(o, "id"),
           .vault_id = Str(o, "vault_id"),
           .principal_type = Str(o, "principal_type"),
           .principal_id = Str(o, "principal_id"),
           .secret_path_pattern = Str(o, "secret_path_pattern"),
           .permissions = {},
           .expires_at = OptStr(o, "expires_at"),
           .created_at = Str(o, "created_at"),
           .created_by = Str(o, "created_by"),
           .json = PlainCopy(o)};
  if (const json::value* v = o.if_contains("permissions"); v != nullptr && v->is_array()) {
    for (const json::value& item : v->as_array()) {
      if (item.is_string()) {
        p.permissions.emplace_back(item.as_string());
      }
    }
  }
  return p;
}

AuditEvent ToAuditEvent(const json::object& o) {
  return AuditEvent{.seq = Int(o, "seq"),
                    .at = Str(o, "at"),
                    .request_id = Str(o, "request_id"),
                    .actor_type = Str(o, "actor_type"),
                    .actor_id = Str(o, "actor_id"),
                    .action = Str(o, "action"),
                    .vault_id = Str(o, "vault_id"),
                    .path = Str(o, "path"),
                    .version = Int(o, "version"),
                    .client_ip = Str(o, "client_ip"),
                    .outcome = Str(o, "outcome"),
                    .status = Str(o, "status"),
                    .http_status = Int(o, "http_status"),
                    .count = std::max<int64_t>(1, Int(o, "count")),
                    .json = PlainCopy(o)};
}

template <typename T, typename Convert>
StatusOr<std::vector<T>> ListOf(const WipedJson& doc, std::string_view key, Convert convert) {
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  ASSIGN_OR_RETURN(const json::array* items, ArrayField(*o, key));
  std::vector<T> out;
  for (const json::value& item : *items) {
    if (!item.is_object()) {
      return Err(Unexpected(fmt::format("'{}' holds a non-object", key)));
    }
    out.push_back(convert(item.as_object()));
  }
  return out;
}

// The object of a call's answer read by `convert`: the call's own error, or kInternal when the
// answer is not a JSON object.
template <typename Convert>
auto AnswerAs(StatusOr<WipedJson> answer, Convert convert)
    -> StatusOr<std::invoke_result_t<Convert, const json::object&>> {
  ASSIGN_OR_RETURN(WipedJson doc, std::move(answer));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return convert(*o);
}

std::string Id(std::string_view id) { return PercentEncode(id, /*keep_slash=*/false); }

std::string Serialize(const json::object& o) { return json::serialize(o); }

void AddQuery(std::string& target, std::string_view name, std::string_view value) {
  if (value.empty()) {
    return;
  }
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += PercentEncode(value, /*keep_slash=*/false);
}

}  // namespace

std::string SecretTarget(std::string_view vault_id, std::string_view kind, std::string_view path) {
  return fmt::format("/v1/vaults/{}/{}/{}", Id(vault_id), kind,
                     PercentEncode(path, /*keep_slash=*/true));
}

StatusOr<std::unique_ptr<CofferClient>> CofferClient::Create(ClientOptions options) {
  ASSIGN_OR_RETURN(auto transport, HttpTransport::Create(TransportOptions{
                                       .base_url = options.addr,
                                       .ca_cert = options.ca_cert,
                                       .timeout_ms = options.timeout_ms,
                                   }));
  return std::unique_ptr<CofferClient>(
      new CofferClient(std::move(transport), std::move(options.token)));
}

CofferClient::CofferClient(std::unique_ptr<HttpTransport> transport, SecretBuffer token)
    : transport_(std::move(transport)), token_(std::move(token)) {}

StatusOr<WipedJson> CofferClient::Call(std::string_view method, const std::string& target,
                                       std::string_view body) {
  return CallWithToken(method, target, &token_, body);
}

StatusOr<WipedJson> CofferClient::CallWithToken(std::string_view method, const std::string& target,
                                                const SecretBuffer* token, std::string_view body) {
  ASSIGN_OR_RETURN(HttpResponse response, transport_->Send(method, target, token, body));
  if (response.status < 200 || response.status >= 300) {
    return Err(
        ProblemStatus(ParseProblem(response.status, response.content_type, response.body.view())));
  }
  if (response.status == 204 || response.body.size() == 0) {
    return WipedJson();
  }
  return WipedJson::Parse(response.body.view());
}

Status CofferClient::Health() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/health"));
  return OkStatus();
}

StatusOr<Me> CofferClient::GetMe() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/me"));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return Me{.type = Str(*o, "type"),
            .id = Str(*o, "id"),
            .name = Str(*o, "name"),
            .is_admin = Bool(*o, "is_admin"),
            .json = PlainCopy(*o)};
}

StatusOr<AccessToken> CofferClient::IssueToken(const SecretBuffer& api_key) {
  WipedJson body;
  body.value() = json::object(body.storage());
  body.value().as_object()["api_key"] = json::string(api_key.view(), body.storage());
  SecretBuffer text = body.Serialize();
  ASSIGN_OR_RETURN(WipedJson doc, CallWithToken("POST", "/v1/auth/token", nullptr, text.view()));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AccessToken{.token = SecretField(*o, "access_token"),
                     .expires_in = Int(*o, "expires_in"),
                     .expires_at = Str(*o, "expires_at")};
}

// --- Vaults ---------------------------------------------------------------------------------

StatusOr<Vault> CofferClient::CreateVault(std::string_view name, std::string_view description) {
  json::object body;
  body["name"] = name;
  if (!description.empty()) {
    body["description"] = description;
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", "/v1/vaults", Serialize(body)));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  vault_cache_.reset();
  return ToVault(*o);
}

StatusOr<std::string> FindVaultByName(const std::vector<Vault>& vaults, std::string_view name) {
  const auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  std::vector<const Vault*> found;
  for (const Vault& v : vaults) {
    if (same(v.name, name)) {
      found.push_back(&v);
    }
  }
  if (found.empty()) {
    return Err(NotFoundError(fmt::format(
        "no vault named '{}' is visible to you (coffer vaults list shows those that are)", name)));
  }
  if (found.size() > 1) {
    std::string which;
    for (const Vault* v : found) {
      which += fmt::format("{}'{}' (id {})", which.empty() ? "" : ", ", v->name, v->id);
    }
    return Err(FailedPreconditionError(fmt::format(
        "more than one vault is named '{}' (names are compared ignoring case): {}; refusing to "
        "pick one: use the vault's id",
        name, which)));
  }
  return found.front()->id;
}

StatusOr<std::vector<Vault>> CofferClient::ListVaults() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/vaults"));
  return ListOf<Vault>(doc, "vaults", ToVault);
}

StatusOr<Vault> CofferClient::GetVault(std::string_view vault_id) {
  return AnswerAs(Call("GET", "/v1/vaults/" + Id(vault_id)), ToVault);
}

Status CofferClient::DeleteVault(std::string_view vault_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", "/v1/vaults/" + Id(vault_id)));
  vault_cache_.reset();
  return OkStatus();
}

StatusOr<std::string> CofferClient::ResolveVault(std::string_view name_or_id) {
  if (name_or_id.empty()) {
    return Err(InvalidArgumentError("a vault name or id is required"));
  }
  if (IsUuid(name_or_id)) {
    return std::string(name_or_id);
  }
  if (!vault_cache_.has_value()) {
    ASSIGN_OR_RETURN(vault_cache_, ListVaults());
  }
  return FindVaultByName(*vault_cache_, name_or_id);
}

// --- Secrets --------------------------------------------------------------------------------

StatusOr<SecretMeta> CofferClient::PutSecret(std::string_view vault_id, std::string_view path,
                                             PutSecretInput input) {
  WipedJson body;
  body.value() = json::object(body.storage());
  json::object& o = body.value().as_object();
  o["type"] = json::string(input.type, body.storage());
  o["value"] = json::string(input.value.view(), body.storage());
  auto parse_object = [&](const std::optional<std::string>& text,
                          std::string_view field) -> Status {
    if (!text.has_value()) {
      return OkStatus();
    }
    boost::system::error_code ec;
    json::value v = json::parse(*text, ec, body.storage());
    if (ec || !v.is_object()) {
      return InvalidArgumentError(
          fmt::format("{} must be a JSON object, e.g. {{\"team\":\"ml\"}}", field));
    }
    o[field] = std::move(v);
    return OkStatus();
  };
  RETURN_IF_ERROR(parse_object(input.metadata_json, "metadata"));
  RETURN_IF_ERROR(parse_object(input.rotation_policy_json, "rotation_policy"));
  if (input.expires_at.has_value()) {
    o["expires_at"] = json::string(*input.expires_at);
  }
  if (input.max_access_count.has_value()) {
    o["max_access_count"] = *input.max_access_count;
  }
  SecretBuffer text = body.Serialize();
  return AnswerAs(Call("PUT", SecretTarget(vault_id, "secrets", path), text.view()), ToSecretMeta);
}

StatusOr<SecretValue> CofferClient::ReadValue(const std::string& target) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", target));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  const json::value* v = o->if_contains("value");
  if (v == nullptr || !v->is_string()) {
    return Err(Unexpected("no 'value' in the secret"));
  }
  return SecretValue{.meta = ToSecretMeta(*o), .value = SecretField(*o, "value")};
}

StatusOr<SecretValue> CofferClient::GetSecret(std::string_view vault_id, std::string_view path) {
  return ReadValue(SecretTarget(vault_id, "secrets", path));
}

StatusOr<SecretValue> CofferClient::GetSecretVersion(std::string_view vault_id,
                                                     std::string_view path, int64_t version) {
  return ReadValue(fmt::format("{}/{}", SecretTarget(vault_id, "secret-version", path), version));
}

StatusOr<SecretPage> CofferClient::ListSecrets(std::string_view vault_id, std::string_view prefix,
                                               std::string_view after,
                                               std::optional<int64_t> limit) {
  std::string target = fmt::format("/v1/vaults/{}/secrets", Id(vault_id));
  AddQuery(target, "prefix", prefix);
  AddQuery(target, "after", after);
  if (limit.has_value()) {
    AddQuery(target, "limit", std::to_string(*limit));
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", target));
  ASSIGN_OR_RETURN(auto secrets, ListOf<SecretMeta>(doc, "secrets", ToSecretMeta));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return SecretPage{.secrets = std::move(secrets), .next_after = OptStr(*o, "next_after")};
}

StatusOr<std::vector<SecretMeta>> CofferClient::ListAllSecrets(std::string_view vault_id,
                                                               std::string_view prefix) {
  std::vector<SecretMeta> all;
  std::string after;
  for (int page = 0; page < 100'000; ++page) {
    ASSIGN_OR_RETURN(SecretPage p, ListSecrets(vault_id, prefix, after, std::nullopt));
    for (SecretMeta& m : p.secrets) {
      all.push_back(std::move(m));
    }
    // A page filtered by policy may be empty and still have a cursor (the server read as much
    // as it reads per request and found nothing visible): only a missing cursor ends the list.
    if (!p.next_after.has_value() || p.next_after->empty() || *p.next_after == after) {
      break;
    }
    after = *p.next_after;
  }
  return all;
}

Status CofferClient::DeleteSecret(std::string_view vault_id, std::string_view path) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", SecretTarget(vault_id, "secrets", path)));
  return OkStatus();
}

StatusOr<SecretMeta> CofferClient::RotateSecret(std::string_view vault_id, std::string_view path,
                                                const RotateSecretInput& input) {
  json::object body;
  if (input.length.has_value()) {
    body["length"] = *input.length;
  }
  if (input.charset.has_value()) {
    body["charset"] = *input.charset;
  }
  if (input.type.has_value()) {
    body["type"] = *input.type;
  }
  return AnswerAs(Call("POST", SecretTarget(vault_id, "secret-rotate", path), Serialize(body)),
                  ToSecretMeta);
}

StatusOr<VersionList> CofferClient::ListVersions(std::string_view vault_id, std::string_view path) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", SecretTarget(vault_id, "secret-versions", path)));
  ASSIGN_OR_RETURN(auto versions, ListOf<VersionInfo>(doc, "versions", ToVersion));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return VersionList{.id = Str(*o, "id"),
                     .path = Str(*o, "path"),
                     .versions = std::move(versions),
                     .json = PlainCopy(*o)};
}

StatusOr<SecretMeta> CofferClient::DisableVersion(std::string_view vault_id, std::string_view path,
                                                  int64_t version) {
  return AnswerAs(
      Call("POST",
           fmt::format("{}/{}/disable", SecretTarget(vault_id, "secret-version", path), version)),
      ToSecretMeta);
}

// --- Users ----------------------------------------------------------------------------------

StatusOr<User> CofferClient::CreateUser(std::string_view name) {
  json::object body;
  body["name"] = name;
  return AnswerAs(Call("POST", "/v1/users", Serialize(body)), ToUser);
}

StatusOr<std::vector<User>> CofferClient::ListUsers() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/users"));
  return ListOf<User>(doc, "users", ToUser);
}

StatusOr<User> CofferClient::GetUser(std::string_view user_id) {
  return AnswerAs(Call("GET", "/v1/users/" + Id(user_id)), ToUser);
}

StatusOr<IssuedApiKey> CofferClient::CreateApiKey(std::string_view user_id, std::string_view name) {
  json::object body;
  body["name"] = name;
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("POST", "/v1/users/" + Id(user_id) + "/api-keys", Serialize(body)));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return IssuedApiKey{.info = ToApiKey(*o), .api_key = SecretField(*o, "api_key")};
}

StatusOr<std::vector<ApiKeyInfo>> CofferClient::ListApiKeys(std::string_view user_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/users/" + Id(user_id) + "/api-keys"));
  return ListOf<ApiKeyInfo>(doc, "api_keys", ToApiKey);
}

Status CofferClient::RevokeApiKey(std::string_view user_id, std::string_view key_id) {
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("DELETE", "/v1/users/" + Id(user_id) + "/api-keys/" + Id(key_id)));
  return OkStatus();
}

// --- Agents ---------------------------------------------------------------------------------

StatusOr<AgentCredentials> CofferClient::CreateAgent(std::string_view name,
                                                     std::string_view description) {
  json::object body;
  body["name"] = name;
  if (!description.empty()) {
    body["description"] = description;
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", "/v1/agents", Serialize(body)));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AgentCredentials{.agent = ToAgent(*o),
                          .api_key = SecretField(*o, "api_key"),
                          .rotation_secret = SecretField(*o, "rotation_secret")};
}

StatusOr<std::vector<Agent>> CofferClient::ListAgents() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/agents"));
  return ListOf<Agent>(doc, "agents", ToAgent);
}

StatusOr<Agent> CofferClient::GetAgent(std::string_view agent_id) {
  return AnswerAs(Call("GET", "/v1/agents/" + Id(agent_id)), ToAgent);
}

Status CofferClient::RevokeAgent(std::string_view agent_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", "/v1/agents/" + Id(agent_id)));
  return OkStatus();
}

StatusOr<AgentCredentials> CofferClient::RotateAgentKey(std::string_view agent_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", "/v1/agents/" + Id(agent_id) + "/rotate-key"));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AgentCredentials{.agent = ToAgent(*o),
                          .api_key = SecretField(*o, "api_key"),
                          .rotation_secret = SecretField(*o, "rotation_secret")};
}

StatusOr<SelfRotation> CofferClient::SelfRotateAgentKey(const SecretBuffer& rotation_secret) {
  WipedJson body;
  body.value() = json::object(body.storage());
  body.value().as_object()["rotationSecret"] = json::string(rotation_secret.view(), body.storage());
  SecretBuffer text = body.Serialize();
  ASSIGN_OR_RETURN(WipedJson doc, Call("POST", "/v1/agents/self/rotate-key", text.view()));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  SelfRotation out{.agent_id = Str(*o, "agentId"),
                   .agent_name = Str(*o, "agentName"),
                   .api_key = SecretField(*o, "apiKey"),
                   .rotation_secret = SecretField(*o, "rotationSecret")};
  token_ = out.api_key.Clone();  // the old key stopped working the moment the call returned
  return out;
}

// --- Policies -------------------------------------------------------------------------------

StatusOr<Policy> CofferClient::CreatePolicy(std::string_view vault_id, const PolicyInput& input) {
  json::object body;
  body["principal_type"] = input.principal_type;
  body["principal_id"] = input.principal_id;
  body["secret_path_pattern"] = input.secret_path_pattern;
  json::array permissions;
  for (const std::string& p : input.permissions) {
    permissions.emplace_back(p);
  }
  body["permissions"] = std::move(permissions);
  if (input.expires_at.has_value()) {
    body["expires_at"] = *input.expires_at;
  }
  return AnswerAs(Call("POST", "/v1/vaults/" + Id(vault_id) + "/policies", Serialize(body)),
                  ToPolicy);
}

StatusOr<std::vector<Policy>> CofferClient::ListPolicies(std::string_view vault_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/vaults/" + Id(vault_id) + "/policies"));
  return ListOf<Policy>(doc, "policies", ToPolicy);
}

StatusOr<Policy> CofferClient::GetPolicy(std::string_view vault_id, std::string_view policy_id) {
  return AnswerAs(Call("GET", "/v1/vaults/" + Id(vault_id) + "/policies/" + Id(policy_id)),
                  ToPolicy);
}

Status CofferClient::DeletePolicy(std::string_view vault_id, std::string_view policy_id) {
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("DELETE", "/v1/vaults/" + Id(vault_id) + "/policies/" + Id(policy_id)));
  return OkStatus();
}

// --- Audit ----------------------------------------------------------------------------------

StatusOr<AuditPage> CofferClient::ListAudit(const AuditQuery& query) {
  std::string target = "/v1/audit";
  AddQuery(target, "vault_id", query.vault_id);
  AddQuery(target, "actor_id", query.actor_id);
  AddQuery(target, "action", query.action);
  AddQuery(target, "since", query.since);
  AddQuery(target, "until", query.until);
  if (query.after.has_value()) {
    AddQuery(target, "after", std::to_string(*query.after));
  }
  if (query.limit.has_value()) {
    AddQuery(target, "limit", std::to_string(*query.limit));
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", target));
  ASSIGN_OR_RETURN(auto events, ListOf<AuditEvent>(doc, "events", ToAuditEvent));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AuditPage{.events = std::move(events), .next_after = OptInt(*o, "next_after")};
}

StatusOr<AuditVerification> CofferClient::VerifyAudit() {
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", "/v1/audit/verify"));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return AuditVerification{.ok = Bool(*o, "ok"),
                           .events_checked = Int(*o, "events_checked"),
                           .first_broken_seq = OptInt(*o, "first_broken_seq"),
                           .reason = OptStr(*o, "reason"),
                           .head_hash = Str(*o, "head_hash"),
                           .json = PlainCopy(*o)};
}

}  // namespace coffer::client
