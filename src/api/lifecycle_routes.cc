// Routes of the version lifecycle (docs/secret-versions.md): aliases (secret-alias), promote,
// rollback, destroying a version, and a vault's kept-version limit (PATCH /v1/vaults/{id}).
#include <boost/json/object.hpp>
#include <map>
#include <string>

#include "api/handler.h"
#include "api/json_body.h"
#include "api/render.h"
#include "api/routes.h"

namespace coffer::api {
namespace {

// {"path": …, "aliases": {"current": 3, …}}
http::Response AliasesResponse(std::string_view path, const std::map<std::string, int64_t>& map) {
  boost::json::object aliases;
  for (const auto& [name, version] : map) aliases[name] = version;
  boost::json::object o;
  o["path"] = path;
  o["aliases"] = std::move(aliases);
  return JsonResponse(200, o);
}

StatusOr<http::Response> SetAlias(SecretService& secrets, const http::Request& request,
                                  const http::RouteParams& params, const RequestContext& ctx) {
  auto body = ParseBody(request, /*optional=*/false);
  if (!body.has_value()) return std::move(body.error());
  RETURN_IF_ERROR(body->AllowOnly({"version"}));
  ASSIGN_OR_RETURN(auto version, body->Integer("version"));
  if (!version.has_value()) {
    return Err(InvalidArgumentError("version is required: the version the alias names"));
  }
  ASSIGN_OR_RETURN(auto aliases,
                   secrets.SetAlias(ctx, Param(params, "vault_id"), Param(params, "path"),
                                    Param(params, "alias"), *version));
  return AliasesResponse(Param(params, "path"), aliases);
}

StatusOr<http::Response> PatchVault(VaultService& vaults, const http::Request& request,
                                    const http::RouteParams& params, const RequestContext& ctx) {
  auto body = ParseBody(request, /*optional=*/false);
  if (!body.has_value()) return std::move(body.error());
  RETURN_IF_ERROR(body->AllowOnly({"max_versions"}));
  ASSIGN_OR_RETURN(auto max_versions, body->Integer("max_versions"));
  if (!max_versions.has_value()) {
    return Err(InvalidArgumentError("max_versions is required (0: no limit)"));
  }
  ASSIGN_OR_RETURN(Vault vault,
                   vaults.SetMaxVersions(ctx, Param(params, "vault_id"), *max_versions));
  return JsonResponse(200, RenderVault(vault));
}

}  // namespace

void RegisterLifecycleRoutes(http::Router& router, const ApiServices& api) {
  SecretService& secrets = api.secrets;
  VaultService& vaults = api.vaults;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  const std::string base = "/v1/vaults/{vault_id}";

  router.Add("POST", base + "/secret-alias/{*path}/{alias}",
             Authed(rc, "secret.alias", [&secrets](auto& req, auto& params, auto& ctx) {
               return SetAlias(secrets, req, params, ctx);
             }));
  router.Add("DELETE", base + "/secret-alias/{*path}/{alias}",
             Authed(rc, "secret.alias",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(
                          auto aliases,
                          secrets.DeleteAlias(ctx, Param(params, "vault_id"), Param(params, "path"),
                                              Param(params, "alias")));
                      return AliasesResponse(Param(params, "path"), aliases);
                    }));
  router.Add("POST", base + "/secret-promote/{*path}",
             Authed(rc, "secret.promote",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto aliases, secrets.Promote(ctx, Param(params, "vault_id"),
                                                                     Param(params, "path")));
                      return AliasesResponse(Param(params, "path"), aliases);
                    }));
  router.Add("POST", base + "/secret-rollback/{*path}",
             Authed(rc, "secret.rollback",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(
                          auto aliases,
                          secrets.Rollback(ctx, Param(params, "vault_id"), Param(params, "path")));
                      return AliasesResponse(Param(params, "path"), aliases);
                    }));
  router.Add("POST", base + "/secret-version/{*path}/{version}/destroy",
             Authed(rc, "secret.destroy_version",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(
                          SecretVersion v,
                          secrets.DestroyVersion(ctx, Param(params, "vault_id"),
                                                 Param(params, "path"), Param(params, "version")));
                      return JsonResponse(200, RenderSecretMeta(v));
                    }));
  router.Add("PATCH", "/v1/vaults/{vault_id}",
             Authed(rc, "vault.update", [&vaults](auto& req, auto& params, auto& ctx) {
               return PatchVault(vaults, req, params, ctx);
             }));
}

}  // namespace coffer::api
