// AttachCredential: each placement, the header it replaces, and the refusals (whose messages
// never hold the secret).
#include "gateway/credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(AttachCredentialTest, BearerReplacesAnAuthorizationTheCallerSent) {
  std::string url = "https://api.example.com/v1/x";
  Headers headers = {{"Authorization", "Bearer caller"}, {"accept", "*/*"}};
  ASSERT_THAT(AttachCredential({.type = "bearer", .prefix = "Bearer "}, "tok-1", url, headers),
              IsOk());
  EXPECT_THAT(headers, ElementsAre(Pair("accept", "*/*"), Pair("authorization", "Bearer tok-1")));
  EXPECT_EQ(url, "https://api.example.com/v1/x");
  Headers plain;
  ASSERT_THAT(AttachCredential({}, "tok-2", url, plain), IsOk());  // empty type: bearer
  EXPECT_THAT(plain, ElementsAre(Pair("authorization", "tok-2")));
}

TEST(AttachCredentialTest, ANamedHeader) {
  std::string url = "https://api.example.com/";
  Headers headers = {{"x-api-key", "caller"}};
  ASSERT_THAT(AttachCredential({.type = "header", .header = "X-Api-Key"}, "k1", url, headers),
              IsOk());
  EXPECT_THAT(headers, ElementsAre(Pair("x-api-key", "k1")));
  EXPECT_THAT(AttachCredential({.type = "header"}, "k1", url, headers),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(AttachCredential({.type = "header", .header = "bad name"}, "k1", url, headers),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(AttachCredentialTest, BasicWithAndWithoutAUser) {
  std::string url = "https://api.example.com/";
  Headers with_user;
  ASSERT_THAT(AttachCredential({.type = "basic", .basic_user = "user"}, "pass", url, with_user),
              IsOk());
  EXPECT_THAT(with_user, ElementsAre(Pair("authorization", "Basic dXNlcjpwYXNz")));
  Headers combined;
  ASSERT_THAT(AttachCredential({.type = "basic"}, "user:pass", url, combined), IsOk());
  EXPECT_THAT(combined, ElementsAre(Pair("authorization", "Basic dXNlcjpwYXNz")));
  Headers none;
  Status s = AttachCredential({.type = "basic"}, "no-colon-secret", url, none);
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(s.message(), Not(HasSubstr("no-colon-secret")));
  EXPECT_TRUE(none.empty());
}

TEST(AttachCredentialTest, QueryParameterIsPercentEncoded) {
  std::string bare = "https://api.example.com/v1/x";
  Headers headers;
  ASSERT_THAT(AttachCredential({.type = "query", .query_param = "key"}, "a b&c=", bare, headers),
              IsOk());
  EXPECT_EQ(bare, "https://api.example.com/v1/x?key=a%20b%26c%3D");
  std::string with_query = "https://api.example.com/v1/x?q=1";
  ASSERT_THAT(AttachCredential({.type = "query", .query_param = "key"}, "s", with_query, headers),
              IsOk());
  EXPECT_EQ(with_query, "https://api.example.com/v1/x?q=1&key=s");
  EXPECT_TRUE(headers.empty());
  EXPECT_THAT(AttachCredential({.type = "query"}, "s", with_query, headers),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(AttachCredentialTest, RefusalsNeverRepeatTheSecret) {
  const std::string secret_with_lf = "line1\r\nX-Injected: yes";
  for (const char* type : {"bearer", "header", "basic"}) {
    std::string url = "https://api.example.com/";
    Headers headers;
    Status s = AttachCredential({.type = type, .header = "x-key", .basic_user = "u"},
                                secret_with_lf, url, headers);
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument)) << type;
    EXPECT_THAT(s.message(), Not(HasSubstr("Injected"))) << type;
    EXPECT_TRUE(headers.empty()) << type;
  }
  std::string url = "https://api.example.com/";
  Headers headers;
  EXPECT_THAT(AttachCredential({.type = "cookie"}, "s", url, headers),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(AttachCredential({}, "", url, headers), StatusIs(StatusCode::kInvalidArgument));
  // In the query a CR/LF is percent-encoded, so it is harmless there.
  EXPECT_THAT(AttachCredential({.type = "query", .query_param = "k"}, "a\nb", url, headers),
              IsOk());
  EXPECT_EQ(url, "https://api.example.com/?k=a%0Ab");
}

}  // namespace
}  // namespace coffer::gateway
