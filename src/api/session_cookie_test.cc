// SessionCookie: the coffer_session value is found among other cookies, and only that name.
#include <gtest/gtest.h>

#include "api/handler.h"

namespace coffer::api {
namespace {

http::Request WithCookies(std::vector<std::string> values) {
  http::Request r;
  for (std::string& v : values) r.headers.emplace_back("cookie", std::move(v));
  return r;
}

TEST(SessionCookieTest, FindsTheSessionAmongOtherCookies) {
  EXPECT_EQ(SessionCookie(WithCookies({"coffer_session=abc"})), "abc");
  EXPECT_EQ(SessionCookie(WithCookies({"theme=dark; coffer_session=abc; lang=en"})), "abc");
  EXPECT_EQ(SessionCookie(WithCookies({"theme=dark", "coffer_session=xyz"})), "xyz");
}

TEST(SessionCookieTest, OtherNamesAndNoCookieAreNoSession) {
  EXPECT_EQ(SessionCookie(WithCookies({})), std::nullopt);
  EXPECT_EQ(SessionCookie(WithCookies({"coffer_session_old=abc"})), std::nullopt);
  EXPECT_EQ(SessionCookie(WithCookies({"xcoffer_session=abc; coffer_sessionx=1"})), std::nullopt);
  EXPECT_EQ(SessionCookie(WithCookies({"coffer_session"})), std::nullopt);
}

}  // namespace
}  // namespace coffer::api
