// Tests for strict JSON body parsing: duplicate keys, nesting depth, media type.
#include "api/json_body.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::api {
namespace {

using ::testing::_;
using ::testing::HasSubstr;

http::Request JsonRequest(std::string body) {
  http::Request r;
  r.headers.emplace_back("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

TEST(JsonBodyTest, RefusesDuplicateKeysAtAnyDepth) {
  for (const char* text : {R"({"a":1,"a":2})", R"({"a":1,"\u0061":2})",
                           R"({"m":{"k":"x","k":"y"}})", R"({"l":[{"k":1,"k":1}]})"}) {
    auto body = JsonBody::Parse(JsonRequest(text), false);
    ASSERT_FALSE(body.has_value()) << text;
    EXPECT_NE(body.error().status.message().find("duplicate key"), std::string::npos);
  }
}

// Boost.JSON frees the keys of a half-parsed object with another alignment than it allocated them
// with; the wiping resource must still free them correctly (ASan: new-delete-type-mismatch).
// Found by fuzz/api_body_fuzz.
TEST(JsonBodyTest, SyntaxErrorAfterKeysFreesThemCleanly) {
  for (const char* text : {R"({"name":"agent-2","description-that-is-long-enough","x":1})",
                           R"({"k":"v","k2")", R"({"a":{"b":"c",)"}) {
    auto body = JsonBody::Parse(JsonRequest(text), false);
    ASSERT_FALSE(body.has_value()) << text;
    EXPECT_NE(body.error().status.message().find("not valid JSON"), std::string::npos);
  }
}

// Found by fuzz/api_body_fuzz: UBSan flagged the double -> int64 conversion of 1e19 / 1e309.
TEST(JsonBodyTest, IntegerFieldOutOfRangeIsRefusedWithoutOverflow) {
  for (const char* text : {R"({"n":1e19})", R"({"n":-1e19})", R"({"n":9e15})", R"({"n":1.5})",
                           R"({"n":18446744073709551616})"}) {
    auto body = JsonBody::Parse(JsonRequest(text), false);
    ASSERT_TRUE(body.has_value()) << text;
    auto n = body->Integer("n");
    EXPECT_THAT(n, StatusIs(_, HasSubstr("whole number in range"))) << text;
  }
  auto body = JsonBody::Parse(JsonRequest(R"({"n":3.0})"), false);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->Integer("n").value(), 3);
}

// A number beyond double's range parses as an infinity, which no JSON can carry: refused wherever
// it is, naming where.
TEST(JsonBodyTest, NumberBeyondDoubleRangeIsRefusedAnywhereNamingItsPath) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"n":1e309})", "n is a number out of range"},
      {R"({"metadata":{"n":1e400,"team":"x"}})", "metadata.n is a number out of range"},
      {R"({"metadata":{"deep":{"list":[1,2,-1e999]}}})",
       "metadata.deep.list[2] is a number out of range"},
      {R"({"rotation_policy":[{"every":1E+400}]})", "rotation_policy[0].every is a number"},
  };
  for (const auto& [text, detail] : cases) {
    auto body = JsonBody::Parse(JsonRequest(text), false);
    ASSERT_FALSE(body.has_value()) << text;
    EXPECT_FALSE(body.error().unsupported_media_type);
    EXPECT_EQ(body.error().status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(body.error().status.message().find(detail), std::string::npos)
        << text << ": " << body.error().status.message();
  }
  // Large but finite numbers are kept as they are.
  auto finite = JsonBody::Parse(JsonRequest(R"({"metadata":{"n":1e308,"m":-2.5e-300}})"), false);
  EXPECT_TRUE(finite.has_value());
}

TEST(JsonBodyTest, SameKeyInDifferentObjectsIsFine) {
  auto body =
      JsonBody::Parse(JsonRequest(R"({"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]})"), false);
  EXPECT_TRUE(body.has_value());
}

TEST(JsonBodyTest, RefusesDeepNestingAndWrongMediaType) {
  auto deep = JsonBody::Parse(JsonRequest(std::string(100000, '[')), false);
  ASSERT_FALSE(deep.has_value());
  EXPECT_FALSE(deep.error().unsupported_media_type);
  http::Request text = JsonRequest("{}");
  text.headers[0].second = "text/plain";
  auto refused = JsonBody::Parse(text, false);
  ASSERT_FALSE(refused.has_value());
  EXPECT_TRUE(refused.error().unsupported_media_type);
}

}  // namespace
}  // namespace coffer::api
