// CofferClient's calls of the gateway routes (docs/gateway.md): an agent's bindings under
// /v1/agents/{agent_id}/bindings, POST …/execute and GET …/executions. Answers are the API's JSON
// in wiped memory: an execution's answer carries whatever the upstream sent back.
#include <boost/json/object.hpp>

#include "client/api_json.h"
#include "client/api_target.h"
#include "client/coffer_client.h"

namespace coffer::client {

namespace {

std::string AgentTarget(std::string_view agent_id) { return "/v1/agents/" + Id(agent_id); }

std::string BindingTarget(std::string_view agent_id, std::string_view binding_id) {
  return AgentTarget(agent_id) + "/bindings/" + Id(binding_id);
}

}  // namespace

StatusOr<WipedJson> CofferClient::ListBindings(std::string_view agent_id) {
  return Call("GET", AgentTarget(agent_id) + "/bindings");
}

StatusOr<WipedJson> CofferClient::GetBinding(std::string_view agent_id,
                                             std::string_view binding_id) {
  return Call("GET", BindingTarget(agent_id, binding_id));
}

StatusOr<WipedJson> CofferClient::CreateBinding(std::string_view agent_id,
                                                std::string_view body_json) {
  return Call("POST", AgentTarget(agent_id) + "/bindings", body_json);
}

StatusOr<WipedJson> CofferClient::UpdateBinding(std::string_view agent_id,
                                                std::string_view binding_id,
                                                std::string_view body_json) {
  return Call("PATCH", BindingTarget(agent_id, binding_id), body_json);
}

Status CofferClient::DeleteBinding(std::string_view agent_id, std::string_view binding_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", BindingTarget(agent_id, binding_id)));
  return OkStatus();
}

StatusOr<WipedJson> CofferClient::TestBinding(std::string_view agent_id,
                                              std::string_view binding_id, int64_t timeout_ms) {
  boost::json::object body;
  if (timeout_ms > 0) body["timeout_ms"] = timeout_ms;
  return Call("POST", BindingTarget(agent_id, binding_id) + "/test", Serialize(body));
}

StatusOr<WipedJson> CofferClient::Execute(std::string_view agent_id, const WipedJson& request) {
  SecretBuffer body = request.Serialize();
  return Call("POST", AgentTarget(agent_id) + "/execute", body.view());
}

StatusOr<WipedJson> CofferClient::ListExecutions(std::string_view agent_id, int64_t limit,
                                                 int64_t offset) {
  std::string target = AgentTarget(agent_id) + "/executions";
  if (limit > 0) AddQuery(target, "limit", std::to_string(limit));
  if (offset > 0) AddQuery(target, "offset", std::to_string(offset));
  return Call("GET", target);
}

StatusOr<std::string> CofferClient::ResolveBinding(std::string_view agent_id,
                                                   std::string_view name_or_id) {
  ASSIGN_OR_RETURN(WipedJson doc, ListBindings(agent_id));
  ASSIGN_OR_RETURN(const boost::json::object* o, ObjectOf(doc));
  ASSIGN_OR_RETURN(const boost::json::array* items, ArrayField(*o, "bindings"));
  for (const boost::json::value& item : *items) {
    if (!item.is_object()) continue;
    const boost::json::object& b = item.as_object();
    if (Str(b, "name") == name_or_id || Str(b, "id") == name_or_id) return Str(b, "id");
  }
  return Err(NotFoundError(fmt::format("the agent has no binding named '{}'", name_or_id)));
}

}  // namespace coffer::client
