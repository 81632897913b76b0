// The typed calls of CofferClient for the version lifecycle (docs/secret-versions.md): reads
// through an alias, moving and removing aliases, promote, rollback, destroying a version, and a
// vault's kept-version limit.
#include <fmt/format.h>

#include <boost/json/object.hpp>

#include "client/api_json.h"
#include "client/api_target.h"
#include "client/coffer_client.h"

namespace coffer::client {

namespace json = boost::json;

namespace {

StatusOr<json::object> ObjectAnswer(StatusOr<WipedJson> doc) {
  if (!doc.has_value()) return Err(std::move(doc.error()));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(*doc));
  return PlainCopy(*o);
}

std::string AliasTarget(std::string_view vault_id, std::string_view path, std::string_view alias) {
  return fmt::format("{}/{}", SecretTarget(vault_id, "secret-alias", path),
                     PercentEncode(alias, /*keep_slash=*/false));
}

}  // namespace

StatusOr<SecretValue> CofferClient::GetSecretAlias(std::string_view vault_id, std::string_view path,
                                                   std::string_view alias) {
  return ReadValue(fmt::format("{}?alias={}", SecretTarget(vault_id, "secrets", path),
                               PercentEncode(alias, /*keep_slash=*/false)));
}

StatusOr<json::object> CofferClient::SetAlias(std::string_view vault_id, std::string_view path,
                                              std::string_view alias, int64_t version) {
  json::object body;
  body["version"] = version;
  return ObjectAnswer(Call("POST", AliasTarget(vault_id, path, alias), Serialize(body)));
}

StatusOr<json::object> CofferClient::DeleteAlias(std::string_view vault_id, std::string_view path,
                                                 std::string_view alias) {
  return ObjectAnswer(Call("DELETE", AliasTarget(vault_id, path, alias)));
}

StatusOr<json::object> CofferClient::Promote(std::string_view vault_id, std::string_view path) {
  return ObjectAnswer(Call("POST", SecretTarget(vault_id, "secret-promote", path)));
}

StatusOr<json::object> CofferClient::Rollback(std::string_view vault_id, std::string_view path) {
  return ObjectAnswer(Call("POST", SecretTarget(vault_id, "secret-rollback", path)));
}

StatusOr<SecretMeta> CofferClient::DestroyVersion(std::string_view vault_id, std::string_view path,
                                                  int64_t version) {
  return AnswerAs(
      Call("POST",
           fmt::format("{}/{}/destroy", SecretTarget(vault_id, "secret-version", path), version)),
      ToSecretMeta);
}

StatusOr<Vault> CofferClient::SetVaultMaxVersions(std::string_view vault_id, int64_t max_versions) {
  json::object body;
  body["max_versions"] = max_versions;
  return AnswerAs(Call("PATCH", "/v1/vaults/" + Id(vault_id), Serialize(body)), ToVault);
}

}  // namespace coffer::client
