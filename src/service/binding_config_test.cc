// Binding config and guardrails: defaults, the canonical form, every refusal naming its field,
// the plain-http destination check against the egress allow-list, and guardrail path globs.
#include "service/binding_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;

TEST(BindingConfigTest, FillsDefaults) {
  auto c = ParseBindingConfig(R"({"base_url":"https://API.example.com/v1/"})");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->base_url, "https://api.example.com/v1");
  EXPECT_EQ(c->host, "api.example.com");
  EXPECT_EQ(c->base_path, "/v1");
  EXPECT_EQ(c->auth_type, "bearer");
  EXPECT_EQ(c->auth_prefix, "Bearer ");
  EXPECT_EQ(c->pass_response_headers, DefaultPassResponseHeaders());
  auto again = ParseBindingConfig(BindingConfigJson(*c));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(BindingConfigJson(*again), BindingConfigJson(*c));
}

TEST(BindingConfigTest, ParsesEveryField) {
  auto c = ParseBindingConfig(
      R"({"base_url":"https://[2001:db8::1]:8443","auth_type":"header","auth_header":"X-Api-Key",
          "auth_prefix":"","headers":{"Anthropic-Version":"2023-06-01"},
          "pass_response_headers":["content-type","x-custom-*"]})");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->host, "2001:db8::1");
  EXPECT_EQ(c->base_path, "");
  EXPECT_EQ(c->auth_header, "x-api-key");
  ASSERT_EQ(c->headers.size(), 1u);
  EXPECT_EQ(c->headers[0].first, "anthropic-version");
  EXPECT_TRUE(PassesResponseHeader(c->pass_response_headers, "x-custom-thing"));
  EXPECT_FALSE(PassesResponseHeader(c->pass_response_headers, "x-other"));

  auto q = ParseBindingConfig(
      R"({"base_url":"https://maps.example.com","auth_type":"query","auth_query_param":"key"})");
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->auth_prefix, "");
  auto b = ParseBindingConfig(
      R"({"base_url":"https://x.example.com","auth_type":"basic","basic_user":"svc"})");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->basic_user, "svc");
}

TEST(BindingConfigTest, RefusalsNameTheField) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"([])", "config must be a JSON object"},
      {R"({})", "config.base_url is required"},
      {R"({"base_url":7})", "config.base_url must be a string"},
      {R"({"base_url":"ftp://x.example.com"})", "config.base_url must use https"},
      {R"({"base_url":"x.example.com"})", "config.base_url must be an absolute"},
      {R"({"base_url":"https://u:p@x.example.com"})", "config.base_url must not carry user"},
      {R"({"base_url":"https://x.example.com/a?b=1"})", "config.base_url must have no query"},
      {R"({"base_url":"https://x.example.com/a/../b"})", "config.base_url must have a path"},
      {R"({"base_url":"https://x.example.com:99999"})", "config.base_url has a malformed port"},
      {R"({"base_url":"https://x_y.example.com"})", "config.base_url has a malformed host"},
      {R"({"base_url":"https://x.example.com","auth_type":"magic"})", "config.auth_type"},
      {R"({"base_url":"https://x.example.com","auth_type":"header"})",
       "config.auth_header is required"},
      {R"({"base_url":"https://x.example.com","auth_header":"x-key"})",
       "config.auth_header applies only"},
      {R"({"base_url":"https://x.example.com","auth_type":"header","auth_header":"host"})",
       "config.auth_header may not be host"},
      {R"({"base_url":"https://x.example.com","auth_type":"header","auth_header":"a b"})",
       "config.auth_header must be a header name"},
      {R"({"base_url":"https://x.example.com","auth_type":"query"})",
       "config.auth_query_param is required"},
      {R"({"base_url":"https://x.example.com","auth_type":"query","auth_query_param":"a&b"})",
       "config.auth_query_param must be"},
      {R"({"base_url":"https://x.example.com","auth_query_param":"k"})",
       "config.auth_query_param applies only"},
      {R"({"base_url":"https://x.example.com","auth_type":"basic","auth_prefix":"x"})",
       "config.auth_prefix applies only"},
      {R"({"base_url":"https://x.example.com","basic_user":"u"})", "config.basic_user applies"},
      {R"({"base_url":"https://x.example.com","auth_type":"basic","basic_user":"a:b"})",
       "config.basic_user must not contain"},
      {R"({"base_url":"https://x.example.com","headers":[]})", "config.headers must be an object"},
      {R"({"base_url":"https://x.example.com","headers":{"Host":"evil"}})",
       "config.headers may not set host"},
      {R"({"base_url":"https://x.example.com","headers":{"Authorization":"x"}})",
       "config.headers may not set authorization"},
      {R"({"base_url":"https://x.example.com","headers":{"x-a":"1\r\nx-b: 2"}})",
       "config.headers values must be"},
      {R"({"base_url":"https://x.example.com","headers":{"x a":"1"}})",
       "config.headers has a name"},
      {R"({"base_url":"https://x.example.com","headers":{"x-a":1}})", "config.headers values"},
      {R"({"base_url":"https://x.example.com","pass_response_headers":["set-cookie"]})",
       "config.pass_response_headers may not pass set-cookie"},
      {R"({"base_url":"https://x.example.com","pass_response_headers":"x"})",
       "config.pass_response_headers must be an array"},
      {R"({"base_url":"https://x.example.com","auth_prefix":"Bearer\n"})",
       "config.auth_prefix must not contain control"},
      {R"({"base_url":"https://x.example.com","extra":1})", "config.extra is not a field"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseBindingConfig(c.json),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.json;
  }
}

TEST(BindingGuardrailsTest, FillsDefaultsAndRoundTrips) {
  auto g = ParseBindingGuardrails("");
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(g->allowed_methods.size(), 6u);
  EXPECT_EQ(g->allowed_paths, std::vector<std::string>{"**"});
  EXPECT_EQ(g->max_requests_per_minute, 60);
  EXPECT_FALSE(g->max_requests_per_day.has_value());
  EXPECT_EQ(g->max_duration_ms, 30000);
  EXPECT_EQ(g->max_request_bytes, 1 << 20);
  EXPECT_EQ(g->max_response_bytes, 10 << 20);

  auto custom = ParseBindingGuardrails(
      R"({"allowed_methods":["get","POST"],"allowed_paths":["/v1/chat/*","v1/models/**"],
          "max_requests_per_minute":5,"max_requests_per_day":100,"max_duration_ms":1000,
          "max_request_bytes":10,"max_response_bytes":20})");
  ASSERT_THAT(custom, IsOk());
  EXPECT_EQ(custom->allowed_methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(custom->allowed_paths, (std::vector<std::string>{"v1/chat/*", "v1/models/**"}));
  EXPECT_EQ(custom->max_requests_per_day, 100);
  auto again = ParseBindingGuardrails(BindingGuardrailsJson(*custom));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(BindingGuardrailsJson(*again), BindingGuardrailsJson(*custom));
}

TEST(BindingGuardrailsTest, RefusalsNameTheField) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"("x")", "guardrails must be a JSON object"},
      {R"({"allowed_methods":[]})", "guardrails.allowed_methods must be a non-empty"},
      {R"({"allowed_methods":["TRACE"]})", "guardrails.allowed_methods must list methods"},
      {R"({"allowed_methods":[1]})", "guardrails.allowed_methods must list strings"},
      {R"({"allowed_paths":"**"})", "guardrails.allowed_paths must be an array"},
      {R"({"allowed_paths":["a//b"]})", "guardrails.allowed_paths globs must have no empty"},
      {R"({"allowed_paths":["a/../b"]})", "guardrails.allowed_paths globs must have no empty"},
      {R"({"allowed_paths":["a**"]})", "guardrails.allowed_paths `**` must be a whole"},
      {R"({"allowed_paths":["a b"]})", "guardrails.allowed_paths globs must be printable"},
      {R"({"allowed_paths":["**/a/**/b/**/c/**/d/**"]})", "at most 4"},
      {R"({"max_requests_per_minute":0})", "guardrails.max_requests_per_minute must be"},
      {R"({"max_requests_per_minute":100001})", "guardrails.max_requests_per_minute"},
      {R"({"max_requests_per_minute":"5"})", "guardrails.max_requests_per_minute"},
      {R"({"max_requests_per_day":0})", "guardrails.max_requests_per_day must be"},
      {R"({"max_duration_ms":99})", "guardrails.max_duration_ms must be"},
      {R"({"max_duration_ms":600001})", "guardrails.max_duration_ms must be"},
      {R"({"max_request_bytes":-1})", "guardrails.max_request_bytes must be"},
      {R"({"max_response_bytes":1.5})", "guardrails.max_response_bytes must be"},
      {R"({"rate":1})", "guardrails.rate is not a field"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseBindingGuardrails(c.json),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.json;
  }
}

TEST(BindingConfigTest, PlainHttpOnlyInsideTheAllowList) {
  auto https = ParseBindingConfig(R"({"base_url":"https://127.0.0.1:1"})");
  auto http = ParseBindingConfig(R"({"base_url":"http://127.0.0.1:8080"})");
  auto http6 = ParseBindingConfig(R"({"base_url":"http://[::1]:8080"})");
  ASSERT_THAT(https, IsOk());
  ASSERT_THAT(http, IsOk());
  ASSERT_THAT(http6, IsOk());
  const gateway::EgressGuard none;
  auto block = gateway::ParseCidrBlock("127.0.0.1/32");
  ASSERT_THAT(block, IsOk());
  const gateway::EgressGuard loopback({*block});
  EXPECT_THAT(CheckBindingDestination(*https, none), IsOk());
  EXPECT_THAT(CheckBindingDestination(*http, none),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("config.base_url must use https")));
  EXPECT_THAT(CheckBindingDestination(*http, loopback), IsOk());
  EXPECT_THAT(CheckBindingDestination(*http6, loopback),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("config.base_url")));
  auto named = ParseBindingConfig(R"({"base_url":"http://localhost:8080"})");
  ASSERT_THAT(named, IsOk());
  // localhost may also resolve to ::1, outside a 127.0.0.1/32 list: refused unless all inside.
  EXPECT_THAT(CheckBindingDestination(*named, none),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("config.base_url")));
}

TEST(BindingPathGlobTest, Matches) {
  struct Case {
    const char* glob;
    const char* path;
    bool match;
  };
  const Case cases[] = {
      {"**", "", true},
      {"**", "v1/chat/completions", true},
      {"v1/chat/*", "v1/chat/completions", true},
      {"v1/chat/*", "v1/chat/completions/x", false},
      {"v1/chat/*", "v1/chat", false},
      {"v1/**", "v1", true},
      {"v1/**", "v1/models/gpt-4.1", true},
      {"v1/models/gpt-*", "v1/models/gpt-4.1", true},
      {"v1/models/gpt-*", "v1/models/o3", false},
      {"**/completions", "v1/chat/completions", true},
      {"v1/*/completions", "/v1/chat/completions", true},
      {"V1/**", "v1/x", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(BindingPathMatches(c.glob, c.path), c.match) << c.glob << " " << c.path;
  }
}

}  // namespace
}  // namespace coffer
