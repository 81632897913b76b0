// Routes of the agent gateway's bindings (/v1/agents/{agent_id}/bindings…), server-side
// execution through them (POST …/execute) and its record (GET …/executions).
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <string>
#include <string_view>

#include "api/handler.h"
#include "api/render.h"
#include "api/routes.h"
#include "common/secret_buffer.h"

namespace coffer::api {
namespace {

constexpr std::string_view kInlineCredential =
    "credential: Coffer does not keep inline credentials; store the value as a secret and name "
    "it with credential_source {\"type\": \"vault_ref\", \"vault_id\": …, \"path\": …}";

struct CredentialSource {
  std::string vault_id;
  std::string path;
};

StatusOr<CredentialSource> ParseCredentialSource(const std::string& json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return Err(InvalidArgumentError("credential_source must be an object"));
  const boost::json::object& o = v.as_object();
  for (const auto& [key, value] : o) {
    if (key != "type" && key != "vault_id" && key != "path") {
      return Err(InvalidArgumentError(
          fmt::format("credential_source.{} is not a field", std::string_view(key).substr(0, 64))));
    }
  }
  const auto* type = o.if_contains("type");
  if (type != nullptr && (!type->is_string() || type->as_string() != "vault_ref")) {
    return Err(InvalidArgumentError("credential_source.type must be \"vault_ref\""));
  }
  const auto* vault_id = o.if_contains("vault_id");
  const auto* path = o.if_contains("path");
  if (vault_id == nullptr || !vault_id->is_string()) {
    return Err(InvalidArgumentError("credential_source.vault_id is required (a string)"));
  }
  if (path == nullptr || !path->is_string()) {
    return Err(InvalidArgumentError("credential_source.path is required (a string)"));
  }
  return CredentialSource{std::string(vault_id->as_string()), std::string(path->as_string())};
}

Status QueryInteger(const http::Request& req, std::string_view name, std::optional<int64_t>& out) {
  auto text = req.Query(name);
  if (!text.has_value()) return OkStatus();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || ptr != text->data() + text->size()) {
    return InvalidArgumentError(fmt::format("query parameter {} must be an integer", name));
  }
  out = v;
  return OkStatus();
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ScalarText(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return boost::json::serialize(v);
}

// params of an execute request: {method, path, query:{k:v}, headers:{k:v}, body}.
Status ReadParams(const std::string& json, GatewayCallRequest& call) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return InvalidArgumentError("params must be an object");
  const boost::json::object& o = v.as_object();
  for (const auto& [key, value] : o) {
    if (key != "method" && key != "path" && key != "query" && key != "headers" && key != "body" &&
        key != "url") {
      return InvalidArgumentError(
          fmt::format("params.{} is not a field", std::string_view(key).substr(0, 64)));
    }
  }
  if (o.contains("url")) {
    return InvalidArgumentError(
        "params.url: a binding's base_url is fixed; give params.path (after base_url)");
  }
  const auto* method = o.if_contains("method");
  if (method == nullptr) {
    call.method = "GET";
  } else if (!method->is_string()) {
    return InvalidArgumentError("params.method must be a string");
  } else {
    call.method = std::string(method->as_string());
  }
  if (const auto* path = o.if_contains("path")) {
    if (!path->is_string()) return InvalidArgumentError("params.path must be a string");
    call.path = std::string(path->as_string());
  }
  if (const auto* query = o.if_contains("query"); query != nullptr && !query->is_null()) {
    if (!query->is_object()) return InvalidArgumentError("params.query must be an object");
    for (const auto& [key, value] : query->as_object()) {
      if (value.is_object() || value.is_array()) {
        return InvalidArgumentError("params.query values must be strings or numbers");
      }
      if (!call.query.empty()) call.query.push_back('&');
      call.query += PercentEncode(std::string_view(key)) + "=" + PercentEncode(ScalarText(value));
    }
  }
  if (const auto* headers = o.if_contains("headers"); headers != nullptr && !headers->is_null()) {
    if (!headers->is_object()) return InvalidArgumentError("params.headers must be an object");
    for (const auto& [key, value] : headers->as_object()) {
      if (!value.is_string()) return InvalidArgumentError("params.headers values must be strings");
      std::string name(key);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      call.headers.emplace_back(std::move(name), std::string(value.as_string()));
    }
  }
  if (const auto* body = o.if_contains("body"); body != nullptr && !body->is_null()) {
    if (body->is_string()) {
      call.body = std::string(body->as_string());
    } else {
      call.body = boost::json::serialize(*body);
      const bool typed = std::any_of(call.headers.begin(), call.headers.end(),
                                     [](const auto& h) { return h.first == "content-type"; });
      if (!typed) call.headers.emplace_back("content-type", "application/json");
    }
  }
  return OkStatus();
}

}  // namespace

void RegisterBindingRoutes(http::Router& router, const ApiServices& api) {
  BindingService& bindings = api.bindings;
  GatewayService& gateway = api.gateway;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  router.Add(
      "POST", "/v1/agents/{agent_id}/bindings",
      Authed(rc, "binding.create",
             [&bindings](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/false);
               if (!body.has_value()) return std::move(body.error());
               if (body->Has("credential")) {
                 return Err(InvalidArgumentError(std::string(kInlineCredential)));
               }
               RETURN_IF_ERROR(body->AllowOnly(
                   {"name", "binding_type", "config", "guardrails", "credential_source"}));
               CreateBindingRequest create;
               ASSIGN_OR_RETURN(std::string_view name, body->RequiredString("name"));
               create.name = std::string(name);
               ASSIGN_OR_RETURN(auto type, body->String("binding_type"));
               create.binding_type = std::string(type.value_or("http"));
               ASSIGN_OR_RETURN(auto config, body->ObjectJson("config"));
               if (!config.has_value()) return Err(InvalidArgumentError("config is required"));
               create.config_json = std::move(*config);
               ASSIGN_OR_RETURN(auto guardrails, body->ObjectJson("guardrails"));
               create.guardrails_json = guardrails.value_or("{}");
               ASSIGN_OR_RETURN(auto source, body->ObjectJson("credential_source"));
               if (!source.has_value()) {
                 return Err(InvalidArgumentError(
                     "credential_source is required: {\"type\": \"vault_ref\", \"vault_id\": …, "
                     "\"path\": …}"));
               }
               ASSIGN_OR_RETURN(CredentialSource cs, ParseCredentialSource(*source));
               create.vault_id = std::move(cs.vault_id);
               create.path = std::move(cs.path);
               ASSIGN_OR_RETURN(Binding b,
                                bindings.Create(ctx, Param(params, "agent_id"), std::move(create)));
               return JsonResponse(201, RenderBinding(b));
             }));
  router.Add("GET", "/v1/agents/{agent_id}/bindings",
             Authed(rc, "binding.list",
                    [&bindings](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(std::vector<Binding> list,
                                       bindings.List(ctx, Param(params, "agent_id")));
                      boost::json::array items;
                      for (const Binding& b : list) items.push_back(RenderBinding(b));
                      boost::json::object o;
                      o["bindings"] = std::move(items);
                      return JsonResponse(200, o);
                    }));
  router.Add("GET", "/v1/agents/{agent_id}/bindings/{binding_id}",
             Authed(rc, "binding.read",
                    [&bindings](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(Binding b, bindings.Get(ctx, Param(params, "agent_id"),
                                                               Param(params, "binding_id")));
                      return JsonResponse(200, RenderBinding(b));
                    }));
  router.Add("PATCH", "/v1/agents/{agent_id}/bindings/{binding_id}",
             Authed(rc, "binding.update",
                    [&bindings](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      if (body->Has("credential")) {
                        return Err(InvalidArgumentError(std::string(kInlineCredential)));
                      }
                      RETURN_IF_ERROR(body->AllowOnly(
                          {"name", "config", "guardrails", "is_active", "credential_source"}));
                      UpdateBindingRequest update;
                      ASSIGN_OR_RETURN(auto name, body->String("name"));
                      if (name.has_value()) update.name = std::string(*name);
                      ASSIGN_OR_RETURN(update.config_json, body->ObjectJson("config"));
                      ASSIGN_OR_RETURN(update.guardrails_json, body->ObjectJson("guardrails"));
                      ASSIGN_OR_RETURN(update.is_active, body->Bool("is_active"));
                      ASSIGN_OR_RETURN(auto source, body->ObjectJson("credential_source"));
                      if (source.has_value()) {
                        ASSIGN_OR_RETURN(CredentialSource cs, ParseCredentialSource(*source));
                        update.vault_id = std::move(cs.vault_id);
                        update.path = std::move(cs.path);
                      }
                      ASSIGN_OR_RETURN(Binding b, bindings.Update(ctx, Param(params, "agent_id"),
                                                                  Param(params, "binding_id"),
                                                                  std::move(update)));
                      return JsonResponse(200, RenderBinding(b));
                    }));
  router.Add("DELETE", "/v1/agents/{agent_id}/bindings/{binding_id}",
             Authed(rc, "binding.delete",
                    [&bindings](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(bindings.Delete(ctx, Param(params, "agent_id"),
                                                      Param(params, "binding_id")));
                      return NoContent();
                    }));
  router.Add("POST", "/v1/agents/{agent_id}/bindings/{binding_id}/test",
             Authed(rc, "binding.test",
                    [&bindings](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/true);
                      if (!body.has_value()) return std::move(body.error());
                      RETURN_IF_ERROR(body->AllowOnly({"timeout_ms"}));
                      ASSIGN_OR_RETURN(auto timeout, body->Integer("timeout_ms"));
                      ASSIGN_OR_RETURN(
                          BindingTestResult result,
                          bindings.Test(ctx, Param(params, "agent_id"), Param(params, "binding_id"),
                                        std::chrono::milliseconds(timeout.value_or(5000))));
                      boost::json::object o;
                      o["success"] = result.success;
                      o["latency_ms"] = result.latency_ms;
                      o["error"] = result.error.empty() ? boost::json::value(nullptr)
                                                        : boost::json::value(result.error);
                      return JsonResponse(200, o);
                    }));
  router.Add(
      "POST", "/v1/agents/{agent_id}/bindings/{binding_id}/rotate-credential",
      Authed(rc, "binding.rotate_credential",
             [&bindings](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/false);
               if (!body.has_value()) return std::move(body.error());
               RETURN_IF_ERROR(body->AllowOnly({"credential"}));
               SecretBuffer credential;
               auto text = body->String("credential");
               if (text.has_value() && text->has_value()) {
                 credential = SecretBuffer(**text);
               } else {
                 ASSIGN_OR_RETURN(auto object, body->ObjectJson("credential"));
                 if (!object.has_value()) {
                   return Err(InvalidArgumentError("credential is required (a string or object)"));
                 }
                 credential = SecretBuffer(*object);
                 SecureWipe(*object);
               }
               if (credential.empty()) return Err(InvalidArgumentError("credential is empty"));
               ASSIGN_OR_RETURN(Binding b, bindings.RotateCredential(ctx, Param(params, "agent_id"),
                                                                     Param(params, "binding_id"),
                                                                     std::move(credential)));
               return JsonResponse(200, RenderBinding(b));
             }));
  router.Add(
      "POST", "/v1/agents/{agent_id}/execute",
      Authed(rc, "binding.use",
             [&gateway](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/false);
               if (!body.has_value()) return std::move(body.error());
               RETURN_IF_ERROR(
                   body->AllowOnly({"binding", "intent_type", "execution_mode", "params"}));
               GatewayCallRequest call;
               ASSIGN_OR_RETURN(std::string_view binding, body->RequiredString("binding"));
               call.binding = std::string(binding);
               ASSIGN_OR_RETURN(std::string_view intent, body->RequiredString("intent_type"));
               if (intent != "http" && intent != "http_request") {
                 return Err(InvalidArgumentError(
                     "intent_type must be \"http\" (or \"http_request\"): the only intent this "
                     "server runs"));
               }
               ASSIGN_OR_RETURN(auto mode, body->String("execution_mode"));
               if (mode.has_value() && *mode != "vault") {
                 return Err(InvalidArgumentError(
                     "execution_mode must be \"vault\": this server runs calls itself and has no "
                     "TEE"));
               }
               ASSIGN_OR_RETURN(auto params_json, body->ObjectJson("params"));
               if (!params_json.has_value()) return Err(InvalidArgumentError("params is required"));
               RETURN_IF_ERROR(ReadParams(*params_json, call));
               call.mode = "vault";
               ASSIGN_OR_RETURN(GatewayCallResult result,
                                gateway.Execute(ctx, Param(params, "agent_id"), std::move(call)));
               return JsonResponse(200, RenderExecuteResult(result));
             }));
  router.Add(
      "GET", "/v1/agents/{agent_id}/executions",
      Authed(
          rc, "execution.list",
          [&gateway](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
            for (const auto& [name, value] : req.query) {
              if (name != "limit" && name != "offset") {
                return Err(InvalidArgumentError("unknown query parameter (known: limit, offset)"));
              }
            }
            std::optional<int64_t> limit;
            std::optional<int64_t> offset;
            RETURN_IF_ERROR(QueryInteger(req, "limit", limit));
            RETURN_IF_ERROR(QueryInteger(req, "offset", offset));
            ASSIGN_OR_RETURN(std::vector<ExecutionRecord> records,
                             gateway.ListExecutions(ctx, Param(params, "agent_id"), limit, offset));
            boost::json::array items;
            for (const ExecutionRecord& r : records) items.push_back(RenderExecution(r));
            boost::json::object o;
            o["events"] = std::move(items);
            return JsonResponse(200, o);
          }));
}

}  // namespace coffer::api
