// Route registration: vaults, auth and health here; secrets in secret_routes.cc.
#include "api/routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/handler.h"
#include "api/render.h"
#include "common/time_format.h"

namespace coffer::api {

void RegisterSecretRoutes(http::Router& router, const ApiServices& api);

namespace {

void RegisterVaultRoutes(http::Router& router, const ApiServices& api) {
  VaultService& vaults = api.vaults;
  router.Add("POST", "/v1/vaults",
             Authed(api.auth, [&vaults](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/false);
               if (!body.has_value()) return std::move(body.error());
               RETURN_IF_ERROR(body->AllowOnly({"name", "description"}));
               CreateVaultRequest create;
               ASSIGN_OR_RETURN(std::string_view name, body->RequiredString("name"));
               create.name = std::string(name);
               ASSIGN_OR_RETURN(auto description, body->String("description"));
               create.description = std::string(description.value_or(""));
               ASSIGN_OR_RETURN(Vault vault, vaults.Create(ctx, std::move(create)));
               return JsonResponse(201, RenderVault(vault));
             }));
  router.Add("GET", "/v1/vaults",
             Authed(api.auth, [&vaults](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(std::vector<Vault> list, vaults.List(ctx));
               boost::json::array items;
               for (const Vault& v : list) items.push_back(RenderVault(v));
               boost::json::object o;
               o["vaults"] = std::move(items);
               return JsonResponse(200, o);
             }));
  router.Add("GET", "/v1/vaults/{vault_id}",
             Authed(api.auth, [&vaults](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(Vault vault, vaults.Get(ctx, Param(params, "vault_id")));
               return JsonResponse(200, RenderVault(vault));
             }));
  router.Add("DELETE", "/v1/vaults/{vault_id}",
             Authed(api.auth, [&vaults](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
               RETURN_IF_ERROR(vaults.Delete(ctx, Param(params, "vault_id")));
               return NoContent();
             }));
}

void RegisterAuthRoutes(http::Router& router, const ApiServices& api) {
  AuthService& auth = api.auth;
  // The API key comes in the body ({"api_key": …}) or, failing that, as the Bearer credential.
  router.Add("POST", "/v1/auth/token",
             Public([&auth](auto& req, auto&) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/true);
               if (!body.has_value()) return std::move(body.error());
               RETURN_IF_ERROR(body->AllowOnly({"api_key"}));
               ASSIGN_OR_RETURN(auto key, body->String("api_key"));
               std::string_view api_key;
               if (key.has_value()) {
                 api_key = *key;
               } else if (auto header = req.Header("authorization");
                          header.has_value() && header->size() > 7 &&
                          (header->starts_with("Bearer ") || header->starts_with("bearer "))) {
                 api_key = header->substr(7);
               } else {
                 return Err(UnauthenticatedError(
                     "api_key is required (in the body, or as the Bearer credential)"));
               }
               ASSIGN_OR_RETURN(AccessToken token, auth.IssueToken(api_key));
               WipingResource resource;
               http::Response r;
               {
                 boost::json::object o(&resource);
                 o["access_token"] = boost::json::string(token.token.view(), &resource);
                 o["token_type"] = "Bearer";
                 o["expires_in"] = token.expires_in_seconds;
                 o["expires_at"] = FormatRfc3339(token.expires_at);
                 r = JsonResponse(200, o);
               }
               r.sensitive = true;
               return r;
             }));
}

}  // namespace

void RegisterRoutes(http::Router& router, const ApiServices& services) {
  router.Add("GET", "/v1/health", [](const http::Request&, const http::RouteParams&) {
    http::Response r;
    r.body = R"({"status":"ok"})";
    return r;
  });
  RegisterAuthRoutes(router, services);
  RegisterVaultRoutes(router, services);
  RegisterSecretRoutes(router, services);
}

}  // namespace coffer::api
