// docs/openapi.yaml (as embedded in the binary) describes exactly the routes the server
// registers: every registered route is described and every described route exists.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "api/openapi_spec.h"
#include "api/ops_routes.h"
#include "api/routes.h"
#include "api/seal_routes.h"
#include "http/metrics.h"
#include "service/service_test_env.h"

namespace coffer::api {
namespace {

// "GET /v1/vaults/{vault_id}/secrets/{path}" for each operation under `paths:`. The description
// is written with two-space indentation: paths at 2, methods at 4.
std::set<std::string> DescribedRoutes(std::string_view yaml) {
  std::set<std::string> routes;
  std::istringstream in{std::string(yaml)};
  const std::regex path_re(R"(^  (/[^:\s]*):\s*$)");
  const std::regex method_re(R"(^    (get|put|post|delete|patch|head|options):\s*$)");
  bool in_paths = false;
  std::string current;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') {
      in_paths = line.rfind("paths:", 0) == 0;
      continue;
    }
    if (!in_paths) {
      continue;
    }
    std::smatch m;
    if (std::regex_match(line, m, path_re)) {
      current = m[1];
    } else if (!current.empty() && std::regex_match(line, m, method_re)) {
      std::string method = m[1];
      for (char& c : method) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      routes.insert(method + " " + current);
    }
  }
  return routes;
}

std::set<std::string> RegisteredRoutes() {
  ServiceTestEnv env;
  auto proxies = http::TrustedProxies::Parse("").value();
  http::Router router;
  WebhookService webhooks(*env.deps_, *env.keyring_, WebhookServiceOptions{});
  // Never started: registering routes makes no outbound call.
  std::unique_ptr<gateway::UpstreamClient> upstream =
      gateway::NewCurlUpstreamClient(gateway::EgressGuard());
  BindingService bindings(*env.deps_, *env.secrets_, gateway::EgressGuard(), upstream.get());
  GatewayService gateway(*env.deps_, *env.secrets_, *upstream, GatewayOptions{});
  RegisterRoutes(router, ApiServices{*env.auth_, *env.audit_, proxies, *env.vaults_, *env.secrets_,
                                     *env.users_, *env.agents_, *env.policies_, *env.audit_service_,
                                     *env.shares_, webhooks, bindings, gateway});
  http::MetricsRegistry metrics;
  RegisterOpsRoutes(router, OpsRoutes{.ready = nullptr, .metrics = &metrics});
  // A server started from unseal shares adds these (server/seal_gate.h).
  const SealControl seal;
  RegisterUnsealRoutes(router, seal, proxies);
  RegisterSealRoute(router, RouteContext{*env.auth_, *env.audit_, proxies}, seal);
  std::set<std::string> routes;
  for (auto [method, pattern] : router.Routes()) {
    // The router's rest parameter {*path} is written {path} in OpenAPI.
    pattern = std::regex_replace(pattern, std::regex(R"(\{\*)"), "{");
    routes.insert(method + " " + pattern);
  }
  return routes;
}

TEST(OpenApiRoutesTest, EveryRegisteredRouteIsDescribedAndNoOther) {
  const std::set<std::string> described = DescribedRoutes(OpenApiYaml());
  const std::set<std::string> registered = RegisteredRoutes();
  ASSERT_GT(registered.size(), 30u);
  for (const std::string& route : registered) {
    EXPECT_TRUE(described.contains(route)) << route << " is served but not in docs/openapi.yaml";
  }
  for (const std::string& route : described) {
    EXPECT_TRUE(registered.contains(route)) << route << " is in docs/openapi.yaml but not served";
  }
}

TEST(OpenApiRoutesTest, EmbeddedDescriptionIsOpenApi31) {
  const std::string_view yaml = OpenApiYaml();
  EXPECT_EQ(yaml.substr(0, 14), "openapi: 3.1.0");
  EXPECT_NE(yaml.find("application/problem+json"), std::string_view::npos);
}

}  // namespace
}  // namespace coffer::api
