// Tests for the check-and-set conditions of a secret write: headers, the `cas` field, and how
// they combine.
#include "api/check_and_set.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::api {
namespace {

using ::testing::HasSubstr;

http::Request WithHeaders(std::vector<std::pair<std::string, std::string>> headers) {
  http::Request r;
  r.headers = std::move(headers);
  return r;
}

TEST(CheckAndSetTest, HeadersAndCasNameTheExpectedLatestVersion) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<int64_t> cas;
    std::optional<int64_t> want;
  };
  const Case cases[] = {
      {{}, std::nullopt, std::nullopt},
      {{{"if-match", "\"3\""}}, std::nullopt, 3},
      {{{"if-match", " \"12\" "}}, std::nullopt, 12},
      {{{"if-none-match", "*"}}, std::nullopt, 0},
      {{}, 5, 5},
      {{}, 0, 0},
      {{{"if-match", "\"5\""}}, 5, 5},
      {{{"if-none-match", "*"}}, 0, 0},
  };
  for (const Case& c : cases) {
    auto got = ExpectedLatestVersion(WithHeaders(c.headers), c.cas);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(*got, c.want);
  }
}

TEST(CheckAndSetTest, MalformedOrDisagreeingConditionsNameTheirSource) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<int64_t> cas;
    std::string names;
  };
  const Case cases[] = {
      {{{"if-match", "3"}}, std::nullopt, "If-Match"},
      {{{"if-match", "\"0\""}}, std::nullopt, "If-Match"},
      {{{"if-match", "\"03\""}}, std::nullopt, "If-Match"},
      {{{"if-match", "W/\"3\""}}, std::nullopt, "If-Match"},
      {{{"if-match", "\"1\", \"2\""}}, std::nullopt, "If-Match"},
      {{{"if-match", "*"}}, std::nullopt, "If-Match"},
      {{{"if-match", "\"99999999999999999999\""}}, std::nullopt, "If-Match"},
      {{{"if-none-match", "\"1\""}}, std::nullopt, "If-None-Match"},
      {{{"if-match", "\"1\""}, {"if-none-match", "*"}}, std::nullopt, "not both"},
      {{{"if-match", "\"1\""}}, 2, "cas"},
      {{{"if-none-match", "*"}}, 1, "cas"},
      {{}, -1, "cas"},
  };
  for (const Case& c : cases) {
    auto got = ExpectedLatestVersion(WithHeaders(c.headers), c.cas);
    ASSERT_THAT(got, StatusIs(StatusCode::kInvalidArgument)) << c.names;
    EXPECT_THAT(got.error().message(), HasSubstr(c.names));
  }
}

TEST(CheckAndSetTest, TheETagIsTheQuotedVersion) {
  http::Response r;
  SetVersionETag(r, 42);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "ETag");
  EXPECT_EQ(r.headers[0].second, "\"42\"");
}

}  // namespace
}  // namespace coffer::api
