// Route registration: health, auth, vaults here; secrets in secret_routes.cc; users, agents and
// audit in identity_routes.cc; policies in policy_routes.cc.
#include "api/routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/handler.h"
#include "api/render.h"
#include "common/time_format.h"

namespace coffer::api {

void RegisterSecretRoutes(http::Router& router, const ApiServices& api);
void RegisterIdentityRoutes(http::Router& router, const ApiServices& api);
void RegisterPolicyRoutes(http::Router& router, const ApiServices& api);

namespace {

void RegisterVaultRoutes(http::Router& router, const ApiServices& api) {
  VaultService& vaults = api.vaults;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  router.Add("POST", "/v1/vaults",
             Authed(rc, "vault.create",
                    [&vaults](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
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
  router.Add(
      "GET", "/v1/vaults",
      Authed(rc, "vault.list", [&vaults](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
        ASSIGN_OR_RETURN(std::vector<Vault> list, vaults.List(ctx));
        boost::json::array items;
        for (const Vault& v : list) items.push_back(RenderVault(v));
        boost::json::object o;
        o["vaults"] = std::move(items);
        return JsonResponse(200, o);
      }));
  router.Add("GET", "/v1/vaults/{vault_id}",
             Authed(rc, "vault.read",
                    [&vaults](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(Vault vault, vaults.Get(ctx, Param(params, "vault_id")));
                      return JsonResponse(200, RenderVault(vault));
                    }),
             kReadOnIoThread);
  router.Add("DELETE", "/v1/vaults/{vault_id}",
             Authed(rc, "vault.delete",
                    [&vaults](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(vaults.Delete(ctx, Param(params, "vault_id")));
                      return NoContent();
                    }));
}

void RegisterAuthRoutes(http::Router& router, const ApiServices& api) {
  AuthService& auth = api.auth;
  const http::TrustedProxies& proxies = api.trusted_proxies;
  // The API key comes in the body ({"api_key": …}) or, failing that, as the Bearer credential.
  router.Add("POST", "/v1/auth/token",
             Public([&auth, &proxies](auto& req, auto&) -> StatusOr<http::Response> {
               RequestContext anonymous = AnonymousContext(req, proxies);
               auto body = ParseBody(req, /*optional=*/true);
               std::string_view api_key;
               Status refused;
               if (!body.has_value()) {
                 refused = InvalidArgumentError("request body refused");
               } else if (Status s = body->AllowOnly({"api_key"}); !s.ok()) {
                 refused = s;
               } else if (auto key = body->String("api_key"); !key.has_value()) {
                 refused = key.error();
               } else if (key->has_value()) {
                 api_key = **key;
               } else if (auto header = AuthService::BearerToken(req.Header("authorization"));
                          header.has_value()) {
                 api_key = *header;
               } else {
                 refused = UnauthenticatedError(
                     "api_key is required (in the body, or as the Bearer credential)");
               }
               // A refused body is audited (and limited) as a refused credential.
               auto token = auth.IssueToken(
                   anonymous, refused.ok() ? StatusOr<std::string_view>(api_key) : Err(refused));
               if (!token.has_value()) {
                 if (!refused.ok() && !body.has_value() && token.error().code() == refused.code()) {
                   return std::move(body.error());  // its own answer (400, 415)
                 }
                 return Err(token.error());  // 429 with Retry-After past the address's budget
               }
               WipingResource resource;
               http::Response r;
               {
                 boost::json::object o(&resource);
                 o["access_token"] = boost::json::string(token->token.view(), &resource);
                 o["token_type"] = "Bearer";
                 o["expires_in"] = token->expires_in_seconds;
                 o["expires_at"] = FormatRfc3339(token->expires_at);
                 r = JsonResponse(200, o);
               }
               r.sensitive = true;
               return r;
             }));
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  router.Add("GET", "/v1/me",
             Authed(rc, "me.read",
                    [](auto&, auto&, auto& ctx) {
                      boost::json::object o;
                      o["type"] = PrincipalKindName(ctx.principal.kind);
                      o["id"] = ctx.principal.id;
                      o["name"] = ctx.principal.name;
                      o["is_admin"] = ctx.principal.is_admin;
                      return StatusOr<http::Response>(JsonResponse(200, o));
                    }),
             kReadOnIoThread);
}

}  // namespace

void RegisterRoutes(http::Router& router, const ApiServices& services) {
  RegisterAuthRoutes(router, services);
  RegisterVaultRoutes(router, services);
  RegisterSecretRoutes(router, services);
  RegisterIdentityRoutes(router, services);
  RegisterPolicyRoutes(router, services);
}

}  // namespace coffer::api
