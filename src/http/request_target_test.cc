// Tests for ParseRequestTarget: decoded segments and parameters, and the targets refused with
// 400 before any route sees them (repeated query parameters among them).
#include "http/request_target.h"

#include <gtest/gtest.h>

#include <string>

namespace coffer::http {
namespace {

TEST(RequestTargetTest, DecodesSegmentsAndParameters) {
  Request request;
  EXPECT_FALSE(ParseRequestTarget("/v1/vaults/x/secrets/a%2Fb?prefix=db%2F&limit=5", request));
  EXPECT_EQ(request.segments, (std::vector<std::string>{"v1", "vaults", "x", "secrets", "a/b"}));
  ASSERT_EQ(request.query.size(), 2u);
  EXPECT_EQ(request.Query("prefix"), "db/");
  EXPECT_EQ(request.Query("limit"), "5");
}

TEST(RequestTargetTest, RefusesARepeatedParameterNamingIt) {
  for (const char* target :
       {"/v1/vaults/x/secrets?prefix=a&prefix=b", "/v1/vaults/x/secrets?limit=1&prefix=a&limit=1",
        "/v1/audit?action=x&%61ction=y"}) {
    Request request;
    auto refused = ParseRequestTarget(target, request);
    ASSERT_TRUE(refused.has_value()) << target;
    EXPECT_EQ(refused->status, 400);
    EXPECT_EQ(refused->content_type, "application/problem+json");
    EXPECT_NE(refused->body.find("is given more than once"), std::string::npos) << refused->body;
  }
  Request request;
  auto refused = ParseRequestTarget("/v1/audit?limit=1&limit=2", request);
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->body.find(R"(query parameter \"limit\")"), std::string::npos) << refused->body;
}

TEST(RequestTargetTest, ShowsARepeatedParameterNameTamed) {
  Request request;
  auto refused = ParseRequestTarget("/v1/audit?a%0Ab=1&a%0Ab=2", request);
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->body.find(R"(\"a?b\")"), std::string::npos) << refused->body;
}

TEST(RequestTargetTest, DistinctParametersAndEmptyValuesAreFine) {
  Request request;
  EXPECT_FALSE(ParseRequestTarget("/v1/audit?since=&until=&after=3", request));
  EXPECT_EQ(request.query.size(), 3u);
}

}  // namespace
}  // namespace coffer::http
