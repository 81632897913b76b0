// The gateway's header filters: what the caller may not send on, what the upstream may not send
// back, and header injection refused.
#include "gateway/forward_headers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

TEST(FilterRequestHeadersTest, DropsCallerCredentialsHopByHopAndForwardingHeaders) {
  const HeaderList in = {{"Authorization", "Bearer agent-key"},
                         {"X-Api-Key", "agent-key"},
                         {"Proxy-Authorization", "x"},
                         {"Cookie", "s=1"},
                         {"Host", "coffer.local"},
                         {"Content-Length", "5"},
                         {"Transfer-Encoding", "chunked"},
                         {"Connection", "keep-alive, X-Hop"},
                         {"X-Hop", "1"},
                         {"Keep-Alive", "timeout=5"},
                         {"TE", "trailers"},
                         {"Trailer", "x"},
                         {"Upgrade", "h2c"},
                         {"Expect", "100-continue"},
                         {"Accept-Encoding", "gzip"},
                         {"Proxy-Connection", "close"},
                         {"X-Forwarded-For", "10.0.0.1"},
                         {"Forwarded", "for=10.0.0.1"},
                         {"Content-Type", "application/json"},
                         {"Accept", "application/json"},
                         {"X-Request-Id", "r1"},
                         {"OpenAI-Beta", "assistants=v2"}};
  auto out = FilterRequestHeaders(in);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, ElementsAre(Pair("content-type", "application/json"),
                                Pair("accept", "application/json"), Pair("x-request-id", "r1"),
                                Pair("openai-beta", "assistants=v2")));
}

TEST(FilterRequestHeadersTest, RefusesInjection) {
  for (const HeaderList& bad :
       std::vector<HeaderList>{{{"x-ok", "a\r\nAuthorization: Bearer stolen"}},
                               {{"x-ok", "a\nb"}},
                               {{"x-ok", std::string("a\0b", 3)}},
                               {{"bad name", "v"}},
                               {{"x\r\ny", "v"}},
                               {{"", "v"}},
                               {{"authorization", "dropped\r\nbut still refused"}}}) {
    auto out = FilterRequestHeaders(bad);
    EXPECT_THAT(out, StatusIs(StatusCode::kInvalidArgument)) << bad[0].first;
    if (!out.has_value()) {
      EXPECT_THAT(out.error().message(), Not(HasSubstr("stolen")));
    }
  }
}

TEST(FilterResponseHeadersTest, OnlyListedNamesNeverCookiesOrHopByHop) {
  const HeaderList in = {{"Content-Type", "application/json"},
                         {"Set-Cookie", "session=1"},
                         {"Content-Length", "10"},
                         {"Transfer-Encoding", "chunked"},
                         {"Connection", "close, x-ratelimit-private"},
                         {"x-ratelimit-private", "1"},
                         {"X-RateLimit-Remaining", "9"},
                         {"openai-model", "gpt"},
                         {"x-internal", "no"},
                         {"Retry-After", "3"},
                         {"cache-control", "bad\r\nvalue"}};
  const std::vector<std::string> pass(std::begin(kDefaultPassResponseHeaders),
                                      std::end(kDefaultPassResponseHeaders));
  EXPECT_THAT(
      FilterResponseHeaders(in, pass),
      ElementsAre(Pair("content-type", "application/json"), Pair("x-ratelimit-remaining", "9"),
                  Pair("openai-model", "gpt"), Pair("retry-after", "3")));
  const std::vector<std::string> everything = {"*"};
  for (const auto& [name, value] : FilterResponseHeaders(in, everything)) {
    EXPECT_NE(name, "set-cookie");
    EXPECT_NE(name, "content-length");
    EXPECT_NE(name, "transfer-encoding");
    EXPECT_NE(name, "connection");
    EXPECT_NE(name, "x-ratelimit-private");
  }
}

TEST(CheckHeaderTextTest, TokensAndValues) {
  EXPECT_THAT(CheckHeaderText("x-custom_1.a~", "any value: with ; punctuation"), IsOk());
  EXPECT_THAT(CheckHeaderText("x:y", "v"), StatusIs(StatusCode::kInvalidArgument));
  Status s = CheckHeaderText("x-key", "secret\r\nmore");
  EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(s.message(), HasSubstr("x-key"));
  EXPECT_THAT(s.message(), Not(HasSubstr("secret")));
}

}  // namespace
}  // namespace coffer::gateway
