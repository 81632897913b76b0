// GET /v1/health, GET /v1/ready, GET /metrics and GET /v1/openapi.yaml.
#include "api/ops_routes.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "api/openapi_spec.h"
#include "common/version.h"
#include "http/problem_json.h"

namespace coffer::api {

void RegisterOpsRoutes(http::Router& router, OpsRoutes ops) {
  router.Add("GET", "/v1/health",
             [ready = ops.ready](const http::Request&, const http::RouteParams&) {
               const bool healthy = !ready || ready().ok();
               http::Response r;
               r.body = boost::json::serialize(boost::json::object{
                   {"status", healthy ? "healthy" : "degraded"}, {"version", Version()}});
               return r;
             });
  router.Add("GET", "/v1/ready",
             [ready = std::move(ops.ready)](const http::Request&, const http::RouteParams&) {
               Status status = ready ? ready() : OkStatus();
               if (!status.ok()) {
                 http::Response r = http::Problem(503, "not-ready", "Not ready", status.message());
                 r.internal_cause = status.message();
                 return r;
               }
               http::Response r;
               r.body = R"({"status":"ready"})";
               return r;
             });
  if (ops.metrics != nullptr) {
    router.Add("GET", "/metrics",
               [metrics = ops.metrics](const http::Request&, const http::RouteParams&) {
                 http::Response r;
                 r.content_type = std::string(http::MetricsRegistry::kContentType);
                 r.body = metrics->Render();
                 return r;
               });
  }
  router.Add("GET", "/v1/openapi.yaml", [](const http::Request&, const http::RouteParams&) {
    http::Response r;
    r.content_type = "application/yaml";
    r.body = std::string(OpenApiYaml());
    // The description changes only with the binary.
    r.headers.emplace_back("Cache-Control", "public, max-age=3600");
    return r;
  });
}

}  // namespace coffer::api
