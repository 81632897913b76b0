// GET /v1/health stays 200 and says "degraded" when the readiness check fails, GET /v1/ready
// answers 503 problem+json with the reason, and /metrics renders the registry it was given.
#include "api/ops_routes.h"

#include <gtest/gtest.h>

#include <string>

#include "common/version.h"

namespace coffer::api {
namespace {

http::Response Call(const http::Router& router, const std::string& path) {
  std::vector<std::string> segments;
  for (size_t pos = 1; pos <= path.size();) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    segments.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  http::RouteMatch match = router.Match("GET", segments);
  EXPECT_EQ(match.kind, http::RouteMatch::Kind::kFound) << path;
  return (*match.handler)(http::Request{}, match.params);
}

TEST(OpsRoutesTest, ReadyReportsTheFailedCheck) {
  bool healthy = true;
  http::Router router;
  RegisterOpsRoutes(router, OpsRoutes{.ready = [&healthy]() -> Status {
                      return healthy ? OkStatus() : UnavailableError("the store is gone");
                    }});
  http::Response ok = Call(router, "/v1/ready");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"status":"ready"})");
  healthy = false;
  http::Response down = Call(router, "/v1/ready");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.content_type, "application/problem+json");
  EXPECT_NE(down.body.find("urn:coffer:problem:not-ready"), std::string::npos);
  EXPECT_NE(down.body.find("the store is gone"), std::string::npos);
}

TEST(OpsRoutesTest, HealthIsLivenessThatSaysWhenTheServerIsDegraded) {
  bool healthy = true;
  http::Router router;
  RegisterOpsRoutes(router, OpsRoutes{.ready = [&healthy]() -> Status {
                      return healthy ? OkStatus() : UnavailableError("the store is gone");
                    }});
  const std::string version(Version());
  http::Response ok = Call(router, "/v1/health");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.content_type, "application/json");
  EXPECT_EQ(ok.body, R"({"status":"healthy","version":")" + version + R"("})");
  healthy = false;
  http::Response degraded = Call(router, "/v1/health");
  EXPECT_EQ(degraded.status, 200) << "a liveness probe must not restart it";
  EXPECT_EQ(degraded.body, R"({"status":"degraded","version":")" + version + R"("})");
  EXPECT_EQ(degraded.body.find("the store is gone"), std::string::npos)
      << "the reason is /v1/ready's";
}

TEST(OpsRoutesTest, MetricsRenderTheRegistry) {
  http::MetricsRegistry registry;
  registry.AddCounter("t_things_total", "Things.").Inc(7);
  http::Router router;
  RegisterOpsRoutes(router, OpsRoutes{.ready = nullptr, .metrics = &registry});
  http::Response r = Call(router, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("t_things_total 7\n"), std::string::npos);
}

}  // namespace
}  // namespace coffer::api
