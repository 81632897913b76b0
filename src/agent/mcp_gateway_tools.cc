// The gateway's tools in `coffer mcp` (docs/gateway.md): execute_http has the server call an API
// through one of the calling agent's bindings, the credential attached by the server, and
// list_bindings shows those bindings. Neither ever holds the credential: the server attaches it
// upstream and redacts it from the answer, and a binding names its secret only by vault and path.
#include <boost/json/serialize.hpp>

#include "agent/mcp_tools.h"
#include "client/api_json.h"

namespace coffer::agent::mcp {
namespace {

// The object `key` of `args` as a {name: string} object in `doc`'s memory (absent: nullopt).
StatusOr<std::optional<json::object>> StringMap(const Args& args, std::string_view key,
                                                const json::storage_ptr& storage) {
  const json::value* v = args.Raw(key);
  if (v == nullptr || v->is_null()) return std::optional<json::object>();
  if (!v->is_object()) {
    return Err(InvalidArgumentError(fmt::format("'{}' must be an object of strings", key)));
  }
  json::object out(storage);
  for (const auto& kv : v->as_object()) {
    if (kv.value().is_string()) {
      out[kv.key()] = json::string(kv.value().as_string(), storage);
    } else if (kv.value().is_number() || kv.value().is_bool()) {
      out[kv.key()] = json::string(json::serialize(kv.value()), storage);
    } else {
      return Err(InvalidArgumentError(fmt::format("'{}' must be an object of strings", key)));
    }
  }
  return std::optional<json::object>(std::move(out));
}

// POST /v1/agents/self/execute; the result: status (success or error), the upstream's status
// code, headers and body (with `json` when it parsed), the error, duration and redactions.
Status ExecuteHttp(CofferClient& c, const Args& args, WipedJson& doc) {
  ASSIGN_OR_RETURN(std::string binding, args.String("binding", true));
  ASSIGN_OR_RETURN(std::string method, args.String("method", true));
  ASSIGN_OR_RETURN(std::string path, args.String("path", false));
  WipedJson request;
  json::object params(request.storage());
  params["method"] = method;
  params["path"] = path;
  ASSIGN_OR_RETURN(auto query, StringMap(args, "query", request.storage()));
  if (query.has_value()) params["query"] = std::move(*query);
  ASSIGN_OR_RETURN(auto headers, StringMap(args, "headers", request.storage()));
  if (headers.has_value()) params["headers"] = std::move(*headers);
  if (const json::value* body = args.Raw("body"); body != nullptr && !body->is_null()) {
    if (!body->is_string() && !body->is_object() && !body->is_array()) {
      return InvalidArgumentError("'body' must be a string, an object or an array");
    }
    params["body"] = json::value(*body, request.storage());
  }
  json::object o(request.storage());
  o["binding"] = binding;
  o["intent_type"] = "http";
  o["params"] = std::move(params);
  request.value() = std::move(o);
  ASSIGN_OR_RETURN(WipedJson answer, c.Execute("self", request));
  ASSIGN_OR_RETURN(const json::object* a, client::ObjectOf(answer));
  json::object out(doc.storage());
  for (std::string_view key : {"execution_id", "status", "error", "duration_ms",
                               "redactions_applied", "execution_surface"}) {
    if (const json::value* v = a->if_contains(key)) out[key] = json::value(*v, doc.storage());
  }
  if (const json::value* result = a->if_contains("result");
      result != nullptr && result->is_object()) {
    for (const auto& kv : result->as_object()) {
      out[kv.key()] = json::value(kv.value(), doc.storage());
    }
  }
  doc.value() = std::move(out);
  return OkStatus();
}

// GET /v1/agents/self/bindings, each binding as what an agent needs to call it: name, id,
// base_url, auth_type, allowed methods and paths, limits and is_active.
Status ListBindings(CofferClient& c, const Args& /*args*/, WipedJson& doc) {
  ASSIGN_OR_RETURN(WipedJson answer, c.ListBindings("self"));
  ASSIGN_OR_RETURN(const json::object* a, client::ObjectOf(answer));
  ASSIGN_OR_RETURN(const json::array* items, client::ArrayField(*a, "bindings"));
  json::array out(doc.storage());
  for (const json::value& item : *items) {
    if (!item.is_object()) continue;
    const json::object& b = item.as_object();
    json::object o(doc.storage());
    for (std::string_view key : {"name", "id", "binding_type", "is_active"}) {
      if (const json::value* v = b.if_contains(key)) o[key] = json::value(*v, doc.storage());
    }
    if (const json::value* config = b.if_contains("config");
        config != nullptr && config->is_object()) {
      for (std::string_view key : {"base_url", "auth_type"}) {
        if (const json::value* v = config->as_object().if_contains(key)) {
          o[key] = json::value(*v, doc.storage());
        }
      }
    }
    if (const json::value* g = b.if_contains("guardrails"); g != nullptr && g->is_object()) {
      for (std::string_view key : {"allowed_methods", "allowed_paths", "max_requests_per_minute",
                                   "max_request_bytes", "max_response_bytes"}) {
        if (const json::value* v = g->as_object().if_contains(key)) {
          o[key] = json::value(*v, doc.storage());
        }
      }
    }
    out.push_back(std::move(o));
  }
  json::object result(doc.storage());
  result["bindings"] = std::move(out);
  doc.value() = std::move(result);
  return OkStatus();
}

}  // namespace

const std::vector<Tool>& GatewayTools() {
  static const std::vector<Tool> kTools = {
      {"execute_http", "Call an API through a binding",
       "Have the Coffer server make an HTTP call through one of your bindings (list_bindings): "
       "it attaches the binding's credential, which you never see, and returns the upstream's "
       "status_code, headers and body (json too when the body is JSON); any echo of the "
       "credential is redacted. path is relative to the binding's base_url and must match its "
       "allowed paths.",
       false, false,
       ObjectSchema(
           R"j("binding":{"type":"string","minLength":1,"description":"Binding name or id"},)j"
           R"j("method":{"type":"string","enum":["GET","HEAD","POST","PUT","PATCH","DELETE"]},)j"
           R"j("path":{"type":"string","description":"Path after the base_url, e.g. v1/models"},)j"
           R"j("query":{"type":"object","additionalProperties":{"type":"string"},)j"
           R"j("description":"Query parameters"},)j"
           R"j("headers":{"type":"object","additionalProperties":{"type":"string"},)j"
           R"j("description":"Request headers (credential headers are dropped)"},)j"
           R"j("body":{"type":["string","object","array"],)j"
           R"j("description":"Request body: text, or JSON sent as JSON"})j",
           R"j("binding","method","path")j"),
       ExecuteHttp},
      {"list_bindings", "List your bindings",
       "The bindings this agent may call through execute_http or the proxy: name, base_url, "
       "auth type, allowed methods and paths, limits and whether active. Never a credential.",
       true, false, ObjectSchema("", ""), ListBindings},
  };
  return kTools;
}

}  // namespace coffer::agent::mcp
