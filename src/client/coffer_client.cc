// The typed calls of CofferClient for the transport, authentication, vaults and secrets: build the
// target and body, send, and read the JSON answer into api_types.h structs. Bodies and answers that
// hold secrets live in wiped memory. Users, agents, policies and audit: coffer_client_identity.cc.
#include "client/coffer_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <cctype>

#include "client/api_json.h"
#include "client/api_target.h"
#include "client/problem.h"
#include "common/ids.h"

namespace coffer::client {

namespace json = boost::json;

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

StatusOr<Vault> CofferClient::CreateVault(std::string_view name, std::string_view description,
                                          int64_t max_versions) {
  json::object body;
  body["name"] = name;
  if (!description.empty()) {
    body["description"] = description;
  }
  if (max_versions > 0) {
    body["max_versions"] = max_versions;
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
  if (input.cas.has_value()) {
    o["cas"] = *input.cas;
  }
  if (input.stage.has_value()) {
    o["stage"] = json::string(*input.stage);
  }
  if (input.max_versions.has_value()) {
    o["max_versions"] = *input.max_versions;
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
                                               std::string_view after, std::optional<int64_t> limit,
                                               std::string_view unused_since) {
  std::string target = fmt::format("/v1/vaults/{}/secrets", Id(vault_id));
  AddQuery(target, "prefix", prefix);
  AddQuery(target, "after", after);
  AddQuery(target, "unused_since", unused_since);
  if (limit.has_value()) {
    AddQuery(target, "limit", std::to_string(*limit));
  }
  ASSIGN_OR_RETURN(WipedJson doc, Call("GET", target));
  ASSIGN_OR_RETURN(auto secrets, ListOf<SecretMeta>(doc, "secrets", ToSecretMeta));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  return SecretPage{.secrets = std::move(secrets), .next_after = OptStr(*o, "next_after")};
}

StatusOr<std::vector<SecretMeta>> CofferClient::ListAllSecrets(std::string_view vault_id,
                                                               std::string_view prefix,
                                                               std::string_view unused_since) {
  std::vector<SecretMeta> all;
  std::string after;
  for (int page = 0; page < 100'000; ++page) {
    ASSIGN_OR_RETURN(SecretPage p,
                     ListSecrets(vault_id, prefix, after, std::nullopt, unused_since));
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
  if (input.stage.has_value()) {
    body["stage"] = *input.stage;
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

}  // namespace coffer::client
