// Routes for users and their API keys, agents (including self-rotation, seed 003), and the audit
// trail. Per-vault policies are in policy_routes.cc.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>

#include "api/handler.h"
#include "api/render.h"
#include "api/routes.h"
#include "common/time_format.h"
#include "http/problem_json.h"

namespace coffer::api {
namespace {

// A response carrying freshly issued credentials: built in wiped memory, wiped once sent.
template <typename Fill>
http::Response CredentialResponse(int status, Fill fill) {
  WipingResource resource;
  http::Response r;
  {
    boost::json::object o(&resource);
    fill(o, &resource);
    r = JsonResponse(status, o);
  }
  r.sensitive = true;
  return r;
}

// The agent's fields at the top level (Coffer's own shape) and again as `agent` (the seeds'
// AgentCreatedResponse), with the credentials.
http::Response AgentWithCredentialsResponse(int status, const AgentWithCredentials& a) {
  return CredentialResponse(status, [&](boost::json::object& o, WipingResource* mr) {
    boost::json::object agent = RenderAgent(a.agent);
    for (auto& kv : agent) o[kv.key()] = kv.value();
    o["agent"] = std::move(agent);
    o["api_key"] = boost::json::string(a.api_key.view(), mr);
    o["rotation_secret"] = boost::json::string(a.rotation_secret.view(), mr);
  });
}

// Fields of the seeds' CreateAgentRequest / UpdateAgentRequest for features Coffer does not
// have. Each is taken only with the value that means "off" (false, an empty list, "api_key"
// for auth_method), which is what Coffer does anyway; any other value is refused, since
// ignoring it would leave the agent less restricted than the caller asked.
constexpr std::string_view kOffWhenFalse[] = {
    "intents_api_enabled",  "shroud_enabled",        "execution_intents_enabled",
    "intents_require_tee",  "execution_require_tee", "cards_enabled",
    "tx_known_tokens_only", "card_reveal_enabled",   "card_require_approval",
    "federation_enabled",   "environment_locked",    "env_auto_resolve"};
constexpr std::string_view kOffWhenEmpty[] = {"scopes",
                                              "vault_ids",
                                              "tx_to_allowlist",
                                              "tx_allowed_chains",
                                              "tx_token_allowlist",
                                              "xrpl_allowed_tx_types",
                                              "solana_ata_allowlist",
                                              "card_payto_allowlist",
                                              "federation_audiences"};

// Refuses, naming it, the first field of `body` that is neither in `supported` nor one of the
// seeds' agent fields given its "off" value.
Status CheckAgentFields(const JsonBody& body, std::initializer_list<std::string_view> supported,
                        std::string_view route) {
  for (std::string_view field : kOffWhenFalse) {
    if (!body.Has(field)) continue;
    ASSIGN_OR_RETURN(std::optional<bool> on, body.Bool(field));
    if (on.value_or(false)) {
      return InvalidArgumentError(fmt::format(
          "{}: Coffer agents have no such feature; only false (or omitting it) is accepted",
          field));
    }
  }
  for (std::string_view field : kOffWhenEmpty) {
    if (!body.Has(field)) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> values, body.StringList(field));
    if (!values.empty()) {
      return InvalidArgumentError(fmt::format(
          "{} is not supported by Coffer: an agent's access is granted by per-vault policies "
          "(POST /v1/vaults/{{vault_id}}/policies); send an empty list or omit it",
          field));
    }
  }
  if (body.Has("auth_method")) {
    ASSIGN_OR_RETURN(auto method, body.String("auth_method"));
    if (method.has_value() && *method != "api_key") {
      return InvalidArgumentError(
          "auth_method: Coffer agents authenticate with an API key; only \"api_key\" is "
          "accepted");
    }
  }
  // Whatever else is sent is refused by name.
  std::vector<std::string_view> allowed(supported);
  allowed.insert(allowed.end(), std::begin(kOffWhenFalse), std::end(kOffWhenFalse));
  allowed.insert(allowed.end(), std::begin(kOffWhenEmpty), std::end(kOffWhenEmpty));
  allowed.push_back("auth_method");
  if (auto field = body.FirstFieldNotIn(allowed); field.has_value()) {
    std::string takes;
    for (std::string_view f : supported) takes += (takes.empty() ? "" : ", ") + std::string(f);
    return InvalidArgumentError(fmt::format(
        "unknown field \"{}\": not supported by Coffer's {} (it takes: {})", *field, route, takes));
  }
  return OkStatus();
}

void RegisterUserRoutes(http::Router& router, const ApiServices& api, const RouteContext& rc) {
  UserService& users = api.users;
  router.Add(
      "POST", "/v1/users",
      Authed(rc, "user.create", [&users](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
        auto body = ParseBody(req, /*optional=*/false);
        if (!body.has_value()) return std::move(body.error());
        RETURN_IF_ERROR(body->AllowOnly({"name"}));
        ASSIGN_OR_RETURN(std::string_view name, body->RequiredString("name"));
        ASSIGN_OR_RETURN(User user, users.Create(ctx, std::string(name)));
        return JsonResponse(201, RenderUser(user));
      }));
  router.Add("GET", "/v1/users",
             Authed(rc, "user.list", [&users](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
               ASSIGN_OR_RETURN(std::vector<User> list, users.List(ctx));
               boost::json::array items;
               for (const User& u : list) items.push_back(RenderUser(u));
               boost::json::object o;
               o["users"] = std::move(items);
               return JsonResponse(200, o);
             }));
  router.Add(
      "GET", "/v1/users/{user_id}",
      Authed(rc, "user.read", [&users](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
        ASSIGN_OR_RETURN(User user, users.Get(ctx, Param(params, "user_id")));
        return JsonResponse(200, RenderUser(user));
      }));
  router.Add("POST", "/v1/users/{user_id}/api-keys",
             Authed(rc, "apikey.create",
                    [&users](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      RETURN_IF_ERROR(body->AllowOnly({"name"}));
                      ASSIGN_OR_RETURN(std::string_view name, body->RequiredString("name"));
                      ASSIGN_OR_RETURN(
                          IssuedCredential key,
                          users.CreateApiKey(ctx, Param(params, "user_id"), std::string(name)));
                      return CredentialResponse(
                          201, [&](boost::json::object& o, WipingResource* mr) {
                            for (auto& kv : RenderApiKey(key.credential)) o[kv.key()] = kv.value();
                            o["api_key"] = boost::json::string(key.token.view(), mr);
                          });
                    }));
  router.Add("GET", "/v1/users/{user_id}/api-keys",
             Authed(rc, "apikey.list",
                    [&users](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto keys, users.ListApiKeys(ctx, Param(params, "user_id")));
                      boost::json::array items;
                      for (const Credential& c : keys) items.push_back(RenderApiKey(c));
                      boost::json::object o;
                      o["api_keys"] = std::move(items);
                      return JsonResponse(200, o);
                    }));
  router.Add(
      "POST", "/v1/users/{user_id}/api-keys/{key_id}/rotate",
      Authed(rc, "apikey.rotate",
             [&users](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/true);
               if (!body.has_value()) return std::move(body.error());
               RETURN_IF_ERROR(body->AllowOnly({"grace_seconds"}));
               ASSIGN_OR_RETURN(auto grace, body->Integer("grace_seconds"));
               ASSIGN_OR_RETURN(IssuedCredential key,
                                users.RotateApiKey(ctx, Param(params, "user_id"),
                                                   Param(params, "key_id"), grace.value_or(0)));
               return CredentialResponse(200, [&](boost::json::object& o, WipingResource* mr) {
                 for (auto& kv : RenderApiKey(key.credential)) o[kv.key()] = kv.value();
                 o["api_key"] = boost::json::string(key.token.view(), mr);
                 o["replaces"] = Param(params, "key_id");
               });
             }));
  router.Add("DELETE", "/v1/users/{user_id}/api-keys/{key_id}",
             Authed(rc, "apikey.revoke",
                    [&users](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(users.RevokeApiKey(ctx, Param(params, "user_id"),
                                                         Param(params, "key_id")));
                      return NoContent();
                    }));
}

void RegisterAgentRoutes(http::Router& router, const ApiServices& api, const RouteContext& rc) {
  AgentService& agents = api.agents;
  const http::TrustedProxies& proxies = api.trusted_proxies;
  // Registered before /v1/agents/{agent_id}/rotate-key so "self" is never taken for an id.
  router.Add("POST", "/v1/agents/self/rotate-key",
             Public([&agents, &proxies](auto& req, auto&) -> StatusOr<http::Response> {
               RequestContext anonymous = AnonymousContext(req, proxies);
               auto body = JsonBody::Parse(req, /*optional=*/true);
               StatusOr<std::optional<std::string_view>> secret = std::optional<std::string_view>();
               if (!body.has_value()) {
                 secret = Err(InvalidArgumentError(body.error().status.message()));
               } else if (body->Has("grace_seconds")) {
                 // Seed 003: the old credentials die the moment a self-rotation returns.
                 secret = Err(InvalidArgumentError(
                     "grace_seconds is refused: a self-rotation has no grace window (the old key "
                     "stops at once); the agent's owner can rotate with one"));
               } else if (Status s = body->AllowOnly({"rotationSecret"}); !s.ok()) {
                 secret = Err(s);
               } else {
                 secret = body->String("rotationSecret");
               }
               auto rotated = agents.SelfRotate(anonymous, req.Header("authorization"), secret);
               if (!rotated.has_value()) return Err(rotated.error());  // 429 with Retry-After
               http::Response rotated_response =
                   CredentialResponse(200, [&](boost::json::object& o, WipingResource* mr) {
                     o["message"] =
                         "API key and rotation secret rotated successfully. Save both \u2014 they "
                         "will not be shown again.";
                     o["apiKey"] = boost::json::string(rotated->api_key.view(), mr);
                     o["rotationSecret"] = boost::json::string(rotated->rotation_secret.view(), mr);
                     o["agentId"] = rotated->agent.id;
                     o["agentName"] = rotated->agent.name;
                   });
               rotated_response.actor_id = rotated->agent.id;
               return rotated_response;
             }));
  router.Add(
      "POST", "/v1/agents",
      Authed(
          rc, "agent.create", [&agents](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
            auto body = ParseBody(req, /*optional=*/false);
            if (!body.has_value()) return std::move(body.error());
            RETURN_IF_ERROR(CheckAgentFields(*body, {"name", "description"}, "POST /v1/agents"));
            CreateAgentRequest create;
            ASSIGN_OR_RETURN(std::string_view name, body->RequiredString("name"));
            create.name = std::string(name);
            ASSIGN_OR_RETURN(auto description, body->String("description"));
            create.description = std::string(description.value_or(""));
            ASSIGN_OR_RETURN(AgentWithCredentials created, agents.Create(ctx, std::move(create)));
            return AgentWithCredentialsResponse(201, created);
          }));
  router.Add(
      "GET", "/v1/agents",
      Authed(rc, "agent.list", [&agents](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
        ASSIGN_OR_RETURN(std::vector<Agent> list, agents.List(ctx));
        boost::json::array items;
        for (const Agent& a : list) items.push_back(RenderAgent(a));
        boost::json::object o;
        o["agents"] = std::move(items);
        return JsonResponse(200, o);
      }));
  // Registered before /v1/agents/{agent_id} so "me" is never taken for an id.
  router.Add(
      "GET", "/v1/agents/me",
      Authed(rc, "agent.read", [&agents](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
        ASSIGN_OR_RETURN(Agent agent, agents.Self(ctx));
        return JsonResponse(200, RenderAgent(agent));
      }));
  router.Add("PATCH", "/v1/agents/{agent_id}",
             Authed(rc, "agent.update",
                    [&agents](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      RETURN_IF_ERROR(CheckAgentFields(*body, {"name", "description", "is_active"},
                                                       "PATCH /v1/agents/{agent_id}"));
                      UpdateAgentRequest update;
                      ASSIGN_OR_RETURN(auto name, body->String("name"));
                      if (name.has_value()) update.name = std::string(*name);
                      ASSIGN_OR_RETURN(auto description, body->String("description"));
                      if (description.has_value()) update.description = std::string(*description);
                      ASSIGN_OR_RETURN(update.is_active, body->Bool("is_active"));
                      ASSIGN_OR_RETURN(Agent agent, agents.Update(ctx, Param(params, "agent_id"),
                                                                  std::move(update)));
                      return JsonResponse(200, RenderAgent(agent));
                    }));
  router.Add("GET", "/v1/agents/{agent_id}",
             Authed(rc, "agent.read",
                    [&agents](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(Agent agent, agents.Get(ctx, Param(params, "agent_id")));
                      return JsonResponse(200, RenderAgent(agent));
                    }));
  router.Add("DELETE", "/v1/agents/{agent_id}",
             Authed(rc, "agent.revoke",
                    [&agents](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(agents.Revoke(ctx, Param(params, "agent_id")));
                      return NoContent();
                    }));
  router.Add("POST", "/v1/agents/{agent_id}/rotate-key",
             Authed(rc, "agent.rotate_key",
                    [&agents](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/true);
                      if (!body.has_value()) return std::move(body.error());
                      RETURN_IF_ERROR(body->AllowOnly({"grace_seconds"}));
                      ASSIGN_OR_RETURN(auto grace, body->Integer("grace_seconds"));
                      ASSIGN_OR_RETURN(
                          AgentWithCredentials rotated,
                          agents.RotateKey(ctx, Param(params, "agent_id"), grace.value_or(0)));
                      return AgentWithCredentialsResponse(200, rotated);
                    }));
}

StatusOr<std::optional<UnixMicros>> QueryTime(const http::Request& req, std::string_view name) {
  auto text = req.Query(name);
  if (!text.has_value()) return std::optional<UnixMicros>();
  auto t = ParseRfc3339(*text);
  if (!t.has_value()) {
    return Err(InvalidArgumentError(fmt::format("{} {}", name, t.error().message())));
  }
  return std::optional<UnixMicros>(*t);
}

void RegisterAuditRoutes(http::Router& router, const ApiServices& api, const RouteContext& rc) {
  AuditService& audit = api.audit;
  router.Add(
      "GET", "/v1/audit",
      Authed(rc, "audit.read", [&audit](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
        for (const auto& [name, value] : req.query) {
          if (name != "vault_id" && name != "actor_id" && name != "action" && name != "since" &&
              name != "until" && name != "after" && name != "limit") {
            return Err(InvalidArgumentError(
                "unknown query parameter (allowed: vault_id, actor_id, action, since, "
                "until, after, limit)"));
          }
        }
        AuditQuery query;
        query.vault_id = std::string(req.Query("vault_id").value_or(""));
        query.actor_id = std::string(req.Query("actor_id").value_or(""));
        query.action = std::string(req.Query("action").value_or(""));
        ASSIGN_OR_RETURN(query.since, QueryTime(req, "since"));
        ASSIGN_OR_RETURN(query.until, QueryTime(req, "until"));
        ASSIGN_OR_RETURN(query.after_seq, QueryInt(req, "after", 0));
        ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 100));
        if (limit < 1 || limit > static_cast<int64_t>(kMaxAuditPage)) {
          return Err(
              InvalidArgumentError(fmt::format("limit must be between 1 and {}", kMaxAuditPage)));
        }
        query.limit = static_cast<size_t>(limit);
        ASSIGN_OR_RETURN(auto events, audit.List(ctx, query));
        boost::json::array items;
        for (const AuditEvent& e : events) items.push_back(RenderAuditEvent(e));
        boost::json::object o;
        o["next_after"] = events.size() == query.limit ? boost::json::value(events.back().seq)
                                                       : boost::json::value(nullptr);
        o["events"] = std::move(items);
        return JsonResponse(200, o);
      }));
  // The seeds' OpenAPI description's query (queryAuditEvents), beside Coffer's own: its
  // filters, offset paging, newest first, its AuditEvent shape. `vault_id` is Coffer's: a
  // vault's owner who is not the admin reads that vault's events by naming it, as in /v1/audit.
  router.Add(
      "GET", "/v1/audit/events",
      Authed(rc, "audit.read", [&audit](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
        for (const auto& [name, value] : req.query) {
          if (name != "resource_id" && name != "actor_id" && name != "action" && name != "from" &&
              name != "to" && name != "limit" && name != "offset" && name != "vault_id") {
            return Err(InvalidArgumentError(
                "unknown query parameter (allowed: resource_id, actor_id, action, from, to, "
                "limit, offset, vault_id)"));
          }
        }
        AuditQuery query;
        query.vault_id = std::string(req.Query("vault_id").value_or(""));
        query.resource_id = std::string(req.Query("resource_id").value_or(""));
        query.actor_id = std::string(req.Query("actor_id").value_or(""));
        query.action = std::string(req.Query("action").value_or(""));
        ASSIGN_OR_RETURN(query.since, QueryTime(req, "from"));
        ASSIGN_OR_RETURN(query.until, QueryTime(req, "to"));
        ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 100));
        if (limit < 1 || limit > static_cast<int64_t>(kMaxAuditPage)) {
          return Err(
              InvalidArgumentError(fmt::format("limit must be between 1 and {}", kMaxAuditPage)));
        }
        ASSIGN_OR_RETURN(int64_t offset, QueryInt(req, "offset", 0));
        if (offset < 0) return Err(InvalidArgumentError("offset must not be negative"));
        query.limit = static_cast<size_t>(limit);
        query.offset = static_cast<size_t>(offset);
        query.newest_first = true;
        ASSIGN_OR_RETURN(auto events, audit.List(ctx, query));
        boost::json::array items;
        for (const AuditEvent& e : events) items.push_back(RenderSpecAuditEvent(e));
        boost::json::object o;
        o["count"] = items.size();  // events in this page
        o["events"] = std::move(items);
        return JsonResponse(200, o);
      }));
  // from, to and limit of the description's verifyAuditChain are checked but do not narrow
  // the check: the whole chain is verified (events_checked says how much was).
  router.Add(
      "GET", "/v1/audit/verify",
      Authed(rc, "audit.verify", [&audit](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
        for (const auto& [name, value] : req.query) {
          if (name != "from" && name != "to" && name != "limit") {
            return Err(InvalidArgumentError("unknown query parameter (allowed: from, to, limit)"));
          }
        }
        ASSIGN_OR_RETURN(auto from, QueryTime(req, "from"));
        ASSIGN_OR_RETURN(auto to, QueryTime(req, "to"));
        ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 1000));
        if (limit < 1 || limit > 10000) {
          return Err(InvalidArgumentError("limit must be between 1 and 10000"));
        }
        (void)from;
        (void)to;
        ASSIGN_OR_RETURN(AuditVerification v, audit.Verify(ctx));
        return JsonResponse(200, RenderVerification(v));
      }));
}

}  // namespace

void RegisterIdentityRoutes(http::Router& router, const ApiServices& api) {
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  RegisterUserRoutes(router, api, rc);
  RegisterAgentRoutes(router, api, rc);
  RegisterAuditRoutes(router, api, rc);
}

}  // namespace coffer::api
