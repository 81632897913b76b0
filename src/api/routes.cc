// Route registration: health, auth, vaults here; secrets in secret_routes.cc; users, agents and
// audit in identity_routes.cc; policies in policy_routes.cc; share links in share_routes.cc;
// the agent gateway's bindings in binding_routes.cc and its proxy in proxy_routes.cc.
#include "api/routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string_view>

#include "api/handler.h"
#include "api/render.h"
#include "common/ids.h"
#include "common/time_format.h"

namespace coffer::api {

void RegisterSecretRoutes(http::Router& router, const ApiServices& api);
void RegisterIdentityRoutes(http::Router& router, const ApiServices& api);
void RegisterPolicyRoutes(http::Router& router, const ApiServices& api);
void RegisterShareRoutes(http::Router& router, const ApiServices& api);
void RegisterScheduleRoutes(http::Router& router, const ApiServices& api);
void RegisterLifecycleRoutes(http::Router& router, const ApiServices& api);
void RegisterWebhookRoutes(http::Router& router, const ApiServices& api);
void RegisterBindingRoutes(http::Router& router, const ApiServices& api);
void RegisterProxyRoutes(http::Router& router, const ApiServices& api);
void RegisterTokenKeyRoutes(http::Router& router, const ApiServices& api);
void RegisterSessionRoutes(http::Router& router, const ApiServices& api);
void RegisterDashboardRoutes(http::Router& router, const ApiServices& api);

namespace {

void RegisterVaultRoutes(http::Router& router, const ApiServices& api) {
  VaultService& vaults = api.vaults;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  router.Add("POST", "/v1/vaults",
             Authed(rc, "vault.create",
                    [&vaults](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      RETURN_IF_ERROR(body->AllowOnly({"name", "description", "max_versions"}));
                      CreateVaultRequest create;
                      ASSIGN_OR_RETURN(std::string_view name, body->RequiredString("name"));
                      create.name = std::string(name);
                      ASSIGN_OR_RETURN(auto description, body->String("description"));
                      create.description = std::string(description.value_or(""));
                      ASSIGN_OR_RETURN(auto max_versions, body->Integer("max_versions"));
                      create.max_versions = max_versions.value_or(0);
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

// Reads a token exchange's body: sets the API key (nullopt: none given) and the rules, or
// returns why the body is refused.
using ReadExchange = std::function<Status(const http::Request&, const JsonBody&,
                                          std::optional<std::string_view>&, TokenExchangeRules&)>;

// A token exchange route: every refusal, of the body or of the key, goes through
// AuthService::IssueToken, so it is audited and spends the client address's budget like a wrong
// key. `agent_fields` adds agent_id and vault_ids to the answer.
http::Handler TokenExchangeRoute(AuthService& auth, const http::TrustedProxies& proxies,
                                 bool optional_body, bool agent_fields, ReadExchange read) {
  return Public([&auth, &proxies, optional_body, agent_fields, read = std::move(read)](
                    auto& req, auto&) -> StatusOr<http::Response> {
    RequestContext anonymous = AnonymousContext(req, proxies);
    auto body = ParseBody(req, optional_body);
    std::optional<std::string_view> api_key;
    TokenExchangeRules rules;
    Status refused;
    if (!body.has_value()) {
      refused = InvalidArgumentError("request body refused");
    } else {
      refused = read(req, *body, api_key, rules);
      if (refused.ok() && !api_key.has_value()) {
        refused = InvalidArgumentError("api_key is required");
      }
    }
    auto token = auth.IssueToken(
        anonymous, refused.ok() ? StatusOr<std::string_view>(*api_key) : Err(refused), rules);
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
      if (agent_fields) {
        o["agent_id"] = token->principal.id;
        boost::json::array vault_ids(&resource);
        for (const std::string& id : token->vault_ids) vault_ids.emplace_back(id);
        o["vault_ids"] = std::move(vault_ids);
      }
      r = JsonResponse(200, o);
    }
    r.sensitive = true;
    return r;
  });
}

// The api_key field, which must be a string when present.
Status ReadApiKey(const JsonBody& body, std::optional<std::string_view>& api_key) {
  ASSIGN_OR_RETURN(api_key, body.String("api_key"));
  return OkStatus();
}

void RegisterAuthRoutes(http::Router& router, const ApiServices& api) {
  AuthService& auth = api.auth;
  const http::TrustedProxies& proxies = api.trusted_proxies;
  // Coffer's own exchange: any API key, in the body ({"api_key": …}) or, failing that, as the
  // Bearer credential.
  router.Add("POST", "/v1/auth/token",
             TokenExchangeRoute(
                 auth, proxies, /*optional_body=*/true, /*agent_fields=*/false,
                 [](const http::Request& req, const JsonBody& body,
                    std::optional<std::string_view>& api_key, TokenExchangeRules&) -> Status {
                   RETURN_IF_ERROR(body.AllowOnly({"api_key"}));
                   RETURN_IF_ERROR(ReadApiKey(body, api_key));
                   if (api_key.has_value()) return OkStatus();
                   auto header = AuthService::BearerToken(req.Header("authorization"));
                   if (!header.has_value()) {
                     return UnauthenticatedError(
                         "api_key is required (in the body, or as the Bearer "
                         "credential)");
                   }
                   api_key = *header;
                   return OkStatus();
                 }));
  // The seeds' exchanges: a user's API key here, an agent's at agent-token.
  router.Add("POST", "/v1/auth/api-key-token",
             TokenExchangeRoute(
                 auth, proxies, /*optional_body=*/false, /*agent_fields=*/false,
                 [](const http::Request&, const JsonBody& body,
                    std::optional<std::string_view>& api_key, TokenExchangeRules& rules) -> Status {
                   RETURN_IF_ERROR(body.AllowOnly({"api_key"}));
                   rules.accepts = TokenExchange::kUserKey;
                   return ReadApiKey(body, api_key);
                 }));
  router.Add(
      "POST", "/v1/auth/agent-token",
      TokenExchangeRoute(
          auth, proxies, /*optional_body=*/false, /*agent_fields=*/true,
          [](const http::Request&, const JsonBody& body, std::optional<std::string_view>& api_key,
             TokenExchangeRules& rules) -> Status {
            if (body.Has("dpop_jwk")) {
              return InvalidArgumentError(
                  "dpop_jwk: Coffer does not issue DPoP-bound tokens; omit dpop_jwk to get a "
                  "Bearer token");
            }
            RETURN_IF_ERROR(body.AllowOnly({"api_key", "agent_id"}));
            rules.accepts = TokenExchange::kAgentKey;
            ASSIGN_OR_RETURN(auto agent_id, body.String("agent_id"));
            if (agent_id.has_value()) {
              if (!IsUuid(*agent_id)) return InvalidArgumentError("agent_id must be a UUID");
              rules.agent_id = std::string(*agent_id);
            }
            return ReadApiKey(body, api_key);
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
  RegisterShareRoutes(router, services);
  RegisterScheduleRoutes(router, services);
  RegisterLifecycleRoutes(router, services);
  RegisterWebhookRoutes(router, services);
  RegisterBindingRoutes(router, services);
  RegisterProxyRoutes(router, services);
  RegisterTokenKeyRoutes(router, services);
  RegisterSessionRoutes(router, services);
  RegisterDashboardRoutes(router, services);
}

}  // namespace coffer::api
