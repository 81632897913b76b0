// Routes for per-vault access policies: create, list, get, update (PUT), delete. The bodies are
// the seeds' CreatePolicyRequest and UpdatePolicyRequest; what Coffer cannot enforce (the
// expression engine's fields, cron schedules, other condition kinds) is refused with a 400 that
// names the field, never stored and ignored.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "api/handler.h"
#include "api/render.h"
#include "api/routes.h"
#include "common/time_format.h"
#include "model/policy_conditions.h"

namespace coffer::api {
namespace {

// A client's key as shown in an error: bounded, control and non-ASCII bytes masked.
std::string Shown(std::string_view key) {
  std::string name(key.substr(0, 64));
  for (char& c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return name;
}

StatusOr<int> HourField(const boost::json::object& o, std::string_view key, int low, int high,
                        int fallback) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_int64() || v->get_int64() < low || v->get_int64() > high) {
    return Err(InvalidArgumentError(fmt::format(
        "conditions.time_window.{} must be a whole number from {} to {}", key, low, high)));
  }
  return static_cast<int>(v->get_int64());
}

StatusOr<TimeWindow> ParseTimeWindow(const boost::json::object& o) {
  TimeWindow w;
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (key == "cron_expr") {
      if (!kv.value().is_null()) {
        return Err(InvalidArgumentError(
            "conditions.time_window.cron_expr is not supported: give start_hour, end_hour and "
            "days_of_week instead"));
      }
    } else if (key != "start_hour" && key != "end_hour" && key != "days_of_week" &&
               key != "timezone") {
      return Err(InvalidArgumentError(fmt::format(
          "conditions.time_window.{} is not supported (supported: start_hour, end_hour, "
          "days_of_week, timezone)",
          Shown(key))));
    }
  }
  ASSIGN_OR_RETURN(w.start_hour, HourField(o, "start_hour", 0, 23, 0));
  ASSIGN_OR_RETURN(w.end_hour, HourField(o, "end_hour", 0, 24, 24));
  if (const boost::json::value* days = o.if_contains("days_of_week");
      days != nullptr && !days->is_null()) {
    const char* wrong =
        "conditions.time_window.days_of_week must be a non-empty array of days, 0 (Sunday) to 6";
    if (!days->is_array() || days->get_array().empty()) return Err(InvalidArgumentError(wrong));
    w.days = 0;
    for (const boost::json::value& d : days->get_array()) {
      if (!d.is_int64() || d.get_int64() < 0 || d.get_int64() > 6) {
        return Err(InvalidArgumentError(wrong));
      }
      w.days |= static_cast<uint8_t>(1u << d.get_int64());
    }
  }
  if (const boost::json::value* tz = o.if_contains("timezone"); tz != nullptr && !tz->is_null()) {
    if (!tz->is_string()) {
      return Err(InvalidArgumentError("conditions.time_window.timezone must be a string"));
    }
    const std::string_view zone(tz->get_string().data(), tz->get_string().size());
    // The spec's default is UTC; "Etc/UTC" is the tz database's name for the same zone.
    w.timezone = zone == "Etc/UTC" ? "UTC" : Shown(zone);
  }
  RETURN_IF_ERROR(ValidateTimeWindow(w));
  return w;
}

StatusOr<std::vector<IpNetwork>> ParseIpAllowlist(const boost::json::value& v) {
  const char* wrong =
      "conditions.ip_allowlist must be a non-empty array of IPv4 or IPv6 addresses or CIDR blocks";
  if (!v.is_array() || v.get_array().empty()) return Err(InvalidArgumentError(wrong));
  std::vector<IpNetwork> list;
  const auto& items = v.get_array();
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) return Err(InvalidArgumentError(wrong));
    const auto& text = items[i].get_string();
    auto network = ParseIpNetwork(std::string_view(text.data(), text.size()));
    if (!network.has_value()) {
      return Err(InvalidArgumentError(
          fmt::format("conditions.ip_allowlist[{}]: {}", i, network.error().message())));
    }
    list.push_back(*network);
  }
  return list;
}

// `conditions` of a request body: absent or null gives nullopt, {} gives no conditions.
StatusOr<std::optional<PolicyConditions>> ParseConditions(const JsonBody& body) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, body.ObjectJson("conditions"));
  if (!text.has_value()) return std::optional<PolicyConditions>();
  const boost::json::object o = boost::json::parse(*text).as_object();
  PolicyConditions conditions;
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (key == "time_window") {
      if (kv.value().is_null()) continue;
      if (!kv.value().is_object()) {
        return Err(InvalidArgumentError("conditions.time_window must be an object"));
      }
      ASSIGN_OR_RETURN(conditions.time_window, ParseTimeWindow(kv.value().get_object()));
    } else if (key == "ip_allowlist") {
      if (kv.value().is_null()) continue;
      ASSIGN_OR_RETURN(conditions.ip_allowlist, ParseIpAllowlist(kv.value()));
    } else {
      return Err(InvalidArgumentError(fmt::format(
          "conditions.{} is not supported (supported: time_window, ip_allowlist)", Shown(key))));
    }
  }
  return std::optional<PolicyConditions>(std::move(conditions));
}

// The fields of the seeds' policy bodies that need its expression engine or consensus
// approvals, which Coffer does not have: refused when they ask for anything (null, and an empty
// object of conditions, ask for nothing).
Status RefuseExpressionFields(const JsonBody& body) {
  for (std::string_view field : {"attribute_conditions", "tx_conditions"}) {
    ASSIGN_OR_RETURN(std::optional<std::string> text, body.ObjectJson(field));
    if (text.has_value() && *text != "{}") {
      return InvalidArgumentError(fmt::format(
          "{} is not supported: Coffer's policies are schema version 1 (no expression engine)",
          field));
    }
  }
  ASSIGN_OR_RETURN(std::optional<std::string> trigger, body.ObjectJson("consensus_trigger"));
  if (trigger.has_value()) {
    return InvalidArgumentError(
        "consensus_trigger is not supported: Coffer has no consensus "
        "approvals");
  }
  ASSIGN_OR_RETURN(std::optional<std::string_view> approval, body.String("approval_id"));
  if (approval.has_value()) {
    return InvalidArgumentError("approval_id is not supported: Coffer has no consensus approvals");
  }
  // The seeds' default is 2 (which only adds the expression engine, refused above), so both
  // versions are accepted; the policy is stored, and answered, as version 1.
  ASSIGN_OR_RETURN(std::optional<int64_t> version, body.Integer("policy_schema_version"));
  if (version.has_value() && *version != 1 && *version != 2) {
    return InvalidArgumentError(
        "policy_schema_version must be 1 or 2 (Coffer's policies are version 1)");
  }
  return OkStatus();
}

StatusOr<std::optional<UnixMicros>> OptionalTime(const JsonBody& body, std::string_view field) {
  ASSIGN_OR_RETURN(auto text, body.String(field));
  if (!text.has_value()) return std::optional<UnixMicros>();
  auto t = ParseRfc3339(*text);
  if (!t.has_value()) {
    return Err(InvalidArgumentError(fmt::format("{} {}", field, t.error().message())));
  }
  return std::optional<UnixMicros>(*t);
}

StatusOr<std::optional<int64_t>> Priority(const JsonBody& body) {
  ASSIGN_OR_RETURN(std::optional<int64_t> priority, body.Integer("priority"));
  if (priority.has_value() && *priority < 0) {
    return Err(InvalidArgumentError("priority must be 0 or more"));
  }
  return priority;
}

StatusOr<CreatePolicyRequest> ParseCreate(const JsonBody& body) {
  RETURN_IF_ERROR(body.AllowOnly({"principal_type", "principal_id", "secret_path_pattern",
                                  "permissions", "expires_at", "effect", "priority", "conditions",
                                  "policy_schema_version", "attribute_conditions", "tx_conditions",
                                  "consensus_trigger", "approval_id"}));
  RETURN_IF_ERROR(RefuseExpressionFields(body));
  CreatePolicyRequest create;
  ASSIGN_OR_RETURN(std::string_view type, body.RequiredString("principal_type"));
  create.principal_type = std::string(type);
  ASSIGN_OR_RETURN(std::string_view id, body.RequiredString("principal_id"));
  create.principal_id = std::string(id);
  ASSIGN_OR_RETURN(std::string_view pattern, body.RequiredString("secret_path_pattern"));
  create.path_pattern = std::string(pattern);
  ASSIGN_OR_RETURN(create.permissions, body.StringList("permissions"));
  ASSIGN_OR_RETURN(create.expires_at, OptionalTime(body, "expires_at"));
  ASSIGN_OR_RETURN(std::optional<std::string_view> effect, body.String("effect"));
  create.effect = std::string(effect.value_or("allow"));
  ASSIGN_OR_RETURN(std::optional<int64_t> priority, Priority(body));
  create.priority = priority.value_or(0);
  ASSIGN_OR_RETURN(std::optional<PolicyConditions> conditions, ParseConditions(body));
  create.conditions = std::move(conditions).value_or(PolicyConditions{});
  return create;
}

StatusOr<UpdatePolicyRequest> ParseUpdate(const JsonBody& body) {
  RETURN_IF_ERROR(body.AllowOnly({"permissions", "expires_at", "effect", "priority", "conditions",
                                  "policy_schema_version", "attribute_conditions", "tx_conditions",
                                  "consensus_trigger", "approval_id"}));
  RETURN_IF_ERROR(RefuseExpressionFields(body));
  UpdatePolicyRequest update;
  if (body.Has("permissions")) {
    ASSIGN_OR_RETURN(update.permissions, body.StringList("permissions"));
  }
  if (body.Has("expires_at")) {
    ASSIGN_OR_RETURN(update.expires_at, OptionalTime(body, "expires_at"));
  }
  ASSIGN_OR_RETURN(std::optional<std::string_view> effect, body.String("effect"));
  if (effect.has_value()) update.effect = std::string(*effect);
  ASSIGN_OR_RETURN(update.priority, Priority(body));
  if (body.Has("conditions")) {  // {}: no conditions from now on
    ASSIGN_OR_RETURN(std::optional<PolicyConditions> conditions, ParseConditions(body));
    update.conditions = std::move(conditions).value_or(PolicyConditions{});
  }
  return update;
}

}  // namespace

void RegisterPolicyRoutes(http::Router& router, const ApiServices& api) {
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  PolicyService& policies = api.policies;
  const std::string base = "/v1/vaults/{vault_id}/policies";
  router.Add("POST", base,
             Authed(rc, "policy.create",
                    [&policies](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      ASSIGN_OR_RETURN(CreatePolicyRequest create, ParseCreate(*body));
                      ASSIGN_OR_RETURN(
                          Policy policy,
                          policies.Create(ctx, Param(params, "vault_id"), std::move(create)));
                      return JsonResponse(201, RenderPolicy(policy));
                    }));
  router.Add("GET", base,
             Authed(rc, "policy.list",
                    [&policies](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(auto list, policies.List(ctx, Param(params, "vault_id")));
                      boost::json::array items;
                      for (const Policy& p : list) items.push_back(RenderPolicy(p));
                      boost::json::object o;
                      o["policies"] = std::move(items);
                      return JsonResponse(200, o);
                    }));
  router.Add("GET", base + "/{policy_id}",
             Authed(rc, "policy.read",
                    [&policies](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      ASSIGN_OR_RETURN(Policy policy, policies.Get(ctx, Param(params, "vault_id"),
                                                                   Param(params, "policy_id")));
                      return JsonResponse(200, RenderPolicy(policy));
                    }));
  router.Add("PUT", base + "/{policy_id}",
             Authed(rc, "policy.update",
                    [&policies](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      ASSIGN_OR_RETURN(UpdatePolicyRequest update, ParseUpdate(*body));
                      ASSIGN_OR_RETURN(
                          Policy policy,
                          policies.Update(ctx, Param(params, "vault_id"),
                                          Param(params, "policy_id"), std::move(update)));
                      return JsonResponse(200, RenderPolicy(policy));
                    }));
  router.Add("DELETE", base + "/{policy_id}",
             Authed(rc, "policy.delete",
                    [&policies](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(policies.Delete(ctx, Param(params, "vault_id"),
                                                      Param(params, "policy_id")));
                      return NoContent();
                    }));
}

}  // namespace coffer::api
