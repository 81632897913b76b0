// Routes the dashboard needs beside the rest of the API (any client may call them): a vault's
// activity per hour, and which secrets a policy's path pattern would match.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/handler.h"
#include "api/routes.h"
#include "common/time_format.h"

namespace coffer::api {

namespace {

// Only the named query parameters are taken; any other is refused (never silently ignored).
Status AllowOnlyQuery(const http::Request& req, std::string_view allowed) {
  for (const auto& [name, value] : req.query) {
    if (name != allowed) {
      return InvalidArgumentError("unknown query parameter (allowed: " + std::string(allowed) +
                                  ")");
    }
  }
  return OkStatus();
}

StatusOr<http::Response> RenderPreview(std::string_view pattern, const PolicyPreview& preview) {
  boost::json::array matches;
  for (const std::string& path : preview.matches) matches.emplace_back(path);
  boost::json::object o;
  o["pattern"] = pattern;
  o["matches"] = std::move(matches);
  o["truncated"] = preview.truncated;
  return JsonResponse(200, o);
}

}  // namespace

void RegisterDashboardRoutes(http::Router& router, const ApiServices& api) {
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  AuditService& audit = api.audit;
  PolicyService& policies = api.policies;
  router.Add("GET", "/v1/vaults/{vault_id}/activity",
             Authed(rc, "vault.activity",
                    [&audit](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(AllowOnlyQuery(req, "hours"));
                      ASSIGN_OR_RETURN(int64_t hours, QueryInt(req, "hours", 72));
                      ASSIGN_OR_RETURN(VaultActivity activity,
                                       audit.Activity(ctx, Param(params, "vault_id"), hours));
                      boost::json::array buckets;
                      for (const ActivityBucket& b : activity.buckets) {
                        boost::json::object o;
                        o["start"] = FormatRfc3339(b.start);
                        o["reads"] = b.reads;
                        o["writes"] = b.writes;
                        o["refusals"] = b.refusals;
                        buckets.push_back(std::move(o));
                      }
                      boost::json::object o;
                      o["hours"] = activity.hours;
                      o["bucket_seconds"] = 3600;
                      o["buckets"] = std::move(buckets);
                      return JsonResponse(200, o);
                    }));
  router.Add("GET", "/v1/vaults/{vault_id}/policy-preview",
             Authed(rc, "policy.preview",
                    [&policies](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(AllowOnlyQuery(req, "pattern"));
                      auto pattern = req.Query("pattern");
                      if (!pattern.has_value()) {
                        return Err(InvalidArgumentError("the pattern query parameter is required"));
                      }
                      ASSIGN_OR_RETURN(PolicyPreview preview,
                                       policies.Preview(ctx, Param(params, "vault_id"), *pattern));
                      return RenderPreview(*pattern, preview);
                    }));
  router.Add("POST", "/v1/vaults/{vault_id}/policy-preview",
             Authed(rc, "policy.preview",
                    [&policies](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      RETURN_IF_ERROR(body->AllowOnly({"secret_path_pattern"}));
                      ASSIGN_OR_RETURN(std::string_view pattern,
                                       body->RequiredString("secret_path_pattern"));
                      ASSIGN_OR_RETURN(PolicyPreview preview,
                                       policies.Preview(ctx, Param(params, "vault_id"), pattern));
                      return RenderPreview(pattern, preview);
                    }));
}

}  // namespace coffer::api
