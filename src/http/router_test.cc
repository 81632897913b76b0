// Tests for Router: literal and parameter matching, rest parameters followed by more parts,
// percent-decoded segments that contain '/', and 404 versus 405 with an Allow list.
#include "http/router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coffer::http {
namespace {

Handler Tagged(std::string tag) {
  return [tag](const Request&, const RouteParams&) {
    Response r;
    r.body = tag;
    return r;
  };
}

std::string Call(const RouteMatch& m) {
  Request req;
  return (*m.handler)(req, m.params).body;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.Add("GET", "/v1/health", Tagged("health"));
    router_.Add("GET", "/v1/vaults/{vault_id}/secrets", Tagged("list"));
    router_.Add("PUT", "/v1/vaults/{vault_id}/secrets/{*path}", Tagged("put"));
    router_.Add("GET", "/v1/vaults/{vault_id}/secrets/{*path}", Tagged("get"));
    router_.Add("DELETE", "/v1/vaults/{vault_id}/secrets/{*path}", Tagged("delete"));
    router_.Add("GET", "/v1/vaults/{vault_id}/secret-version/{*path}/{version}",
                Tagged("get-version"));
    router_.Add("POST", "/v1/vaults/{vault_id}/secret-version/{*path}/{version}/disable",
                Tagged("disable"));
    router_.Add("POST", "/v1/agents/self/rotate-key", Tagged("self-rotate"));
    router_.Add("POST", "/v1/agents/{id}/rotate-key", Tagged("rotate"));
    router_.Add("GET", "/", Tagged("root"));
  }

  Router router_;
};

TEST_F(RouterTest, MatchesLiteralRoute) {
  RouteMatch m = router_.Match("GET", {"v1", "health"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "health");
  EXPECT_EQ(m.route_template, "/v1/health");
  EXPECT_TRUE(m.params.empty());
}

TEST_F(RouterTest, MatchesRootPath) {
  RouteMatch m = router_.Match("GET", {});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "root");
}

TEST_F(RouterTest, SingleParameter) {
  RouteMatch m = router_.Match("GET", {"v1", "vaults", "prod", "secrets"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "list");
  EXPECT_EQ(m.params.at("vault_id"), "prod");
}

TEST_F(RouterTest, RestParameterJoinsSegments) {
  RouteMatch m = router_.Match("GET", {"v1", "vaults", "prod", "secrets", "api-keys", "openai"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "get");
  EXPECT_EQ(m.params.at("vault_id"), "prod");
  EXPECT_EQ(m.params.at("path"), "api-keys/openai");
  EXPECT_EQ(m.route_template, "/v1/vaults/{vault_id}/secrets/{*path}");
}

TEST_F(RouterTest, DecodedSlashInsideOneSegmentIsKept) {
  // /v1/vaults/prod/secrets/api-keys%2Fopenai arrives as one decoded segment.
  RouteMatch m = router_.Match("GET", {"v1", "vaults", "prod", "secrets", "api-keys/openai"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.params.at("path"), "api-keys/openai");

  RouteMatch mixed =
      router_.Match("GET", {"v1", "vaults", "prod", "secret-version", "a/b", "c", "7"});
  ASSERT_EQ(mixed.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(mixed.params.at("path"), "a/b/c");
  EXPECT_EQ(mixed.params.at("version"), "7");
}

TEST_F(RouterTest, RestParameterFollowedByMoreParts) {
  RouteMatch m =
      router_.Match("POST", {"v1", "vaults", "v", "secret-version", "a", "b", "3", "disable"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "disable");
  EXPECT_EQ(m.params.at("path"), "a/b");
  EXPECT_EQ(m.params.at("version"), "3");

  RouteMatch get = router_.Match("GET", {"v1", "vaults", "v", "secret-version", "a", "b", "3"});
  ASSERT_EQ(get.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(get), "get-version");
  EXPECT_EQ(get.params.at("path"), "a/b");
  EXPECT_EQ(get.params.at("version"), "3");

  // A path whose last segment is literally "disable" is still a path for the GET route.
  RouteMatch odd =
      router_.Match("GET", {"v1", "vaults", "v", "secret-version", "x", "disable", "2"});
  ASSERT_EQ(odd.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(odd.params.at("path"), "x/disable");
  EXPECT_EQ(odd.params.at("version"), "2");
}

TEST_F(RouterTest, RestParameterNeedsAtLeastOneSegment) {
  // secret-version/{*path}/{version}: one segment is not enough for both.
  RouteMatch m = router_.Match("GET", {"v1", "vaults", "v", "secret-version", "3"});
  EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
  // A trailing slash gives an empty last segment, which is not a path.
  RouteMatch empty = router_.Match("GET", {"v1", "vaults", "v", "secrets", ""});
  EXPECT_EQ(empty.kind, RouteMatch::Kind::kNotFound);
}

TEST_F(RouterTest, EmptySegmentDoesNotMatchParameter) {
  RouteMatch m = router_.Match("GET", {"v1", "vaults", "", "secrets"});
  EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
}

TEST_F(RouterTest, FirstRegisteredRouteWins) {
  RouteMatch m = router_.Match("POST", {"v1", "agents", "self", "rotate-key"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(m), "self-rotate");
  RouteMatch other = router_.Match("POST", {"v1", "agents", "a1", "rotate-key"});
  ASSERT_EQ(other.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(Call(other), "rotate");
  EXPECT_EQ(other.params.at("id"), "a1");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  for (const std::vector<std::string>& segments : std::vector<std::vector<std::string>>{
           {"v1"}, {"v2", "health"}, {"v1", "health", "extra"}, {"v1", "vaults", "x"}}) {
    RouteMatch m = router_.Match("GET", segments);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
    EXPECT_EQ(m.handler, nullptr);
    EXPECT_TRUE(m.allow.empty());
  }
}

TEST_F(RouterTest, WrongMethodIsMethodNotAllowedWithAllow) {
  RouteMatch m = router_.Match("PATCH", {"v1", "vaults", "v", "secrets", "a"});
  EXPECT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "PUT, GET, DELETE");

  RouteMatch health = router_.Match("POST", {"v1", "health"});
  EXPECT_EQ(health.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(health.allow, "GET");

  // HEAD is not special.
  RouteMatch head = router_.Match("HEAD", {"v1", "health"});
  EXPECT_EQ(head.kind, RouteMatch::Kind::kMethodNotAllowed);
}

TEST_F(RouterTest, MethodIsCaseSensitive) {
  EXPECT_EQ(router_.Match("get", {"v1", "health"}).kind, RouteMatch::Kind::kMethodNotAllowed);
}

TEST_F(RouterTest, RoutesListsRegistrations) {
  auto routes = router_.Routes();
  ASSERT_EQ(routes.size(), 10u);
  EXPECT_EQ(routes[0], std::make_pair(std::string("GET"), std::string("/v1/health")));
  EXPECT_EQ(routes[6].first, "POST");
  EXPECT_EQ(routes[6].second, "/v1/vaults/{vault_id}/secret-version/{*path}/{version}/disable");
}

TEST(RouterEdgeTest, TwoRestParameters) {
  Router router;
  router.Add("GET", "/a/{*x}/mid/{*y}/end", Tagged("two"));
  RouteMatch m = router.Match("GET", {"a", "1", "2", "mid", "3", "mid", "4", "end"});
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  // The first rest takes as much as it can.
  EXPECT_EQ(m.params.at("x"), "1/2/mid/3");
  EXPECT_EQ(m.params.at("y"), "4");
}

TEST(RouterEdgeTest, ManySegmentsStayCheap) {
  Router router;
  router.Add("GET", "/v1/vaults/{vault_id}/secret-version/{*path}/{version}/disable", Tagged("x"));
  std::vector<std::string> segments = {"v1", "vaults", "v", "secret-version"};
  segments.resize(20000, "s");
  RouteMatch m = router.Match("GET", segments);
  EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
}

}  // namespace
}  // namespace coffer::http
