// Dashboard sessions: sign-in with a person's API key, the cookie and CSRF token as a request's
// credential, expiry, sign-out, and the Authorization header winning over a cookie.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/status_matchers.h"
#include "service/auth_service.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

class AuthSessionTest : public ::testing::Test {
 protected:
  RequestContext Anonymous() const {
    RequestContext ctx;
    ctx.request_id = "req-session";
    ctx.client_ip = "192.0.2.7";
    return ctx;
  }
  StatusOr<Principal> ByCookie(std::string_view cookie, std::optional<std::string_view> csrf) {
    return env_.auth_->AuthenticateRequest(
        Anonymous(),
        RequestCredentials{
            .authorization = std::nullopt, .session_cookie = cookie, .csrf_token = csrf});
  }
  std::vector<AuditEvent> AllEvents() {
    AuditQuery all;
    all.limit = 0;
    return env_.store_->ListAudit(all).value();
  }
  int64_t AuditCount(std::string_view action) {
    auto events = AllEvents();
    return std::count_if(events.begin(), events.end(),
                         [&](const AuditEvent& e) { return e.action == action; });
  }

  ServiceTestEnv env_;
};

TEST_F(AuthSessionTest, SignInGivesACookieThatAuthenticatesWithItsCsrfToken) {
  auto session = env_.auth_->CreateSession(Anonymous(), env_.admin_key_.view());
  ASSERT_THAT(session, IsOk());
  EXPECT_GE(session->cookie.size(), 43u);  // 256 bits, base64url
  EXPECT_FALSE(session->csrf_token.empty());
  EXPECT_EQ(session->expires_at, ServiceTestEnv::kStart + 3600 * kMicrosPerSecond);
  EXPECT_EQ(session->max_age_seconds, 3600);
  EXPECT_EQ(session->principal.id, env_.admin_.id);
  EXPECT_TRUE(session->principal.is_admin);
  EXPECT_EQ(AuditCount("session.create"), 1);

  auto principal = ByCookie(session->cookie.view(), session->csrf_token);
  ASSERT_THAT(principal, IsOk());
  EXPECT_EQ(principal->id, env_.admin_.id);

  // The store keeps neither the cookie nor the CSRF token.
  auto events = AllEvents();
  for (const AuditEvent& e : events) {
    EXPECT_EQ(e.details.find(session->cookie.view()), std::string::npos);
    EXPECT_EQ(e.details.find(session->csrf_token), std::string::npos);
  }

  // A reload gets the same CSRF token back.
  auto again = env_.auth_->GetSession(Anonymous(), session->cookie.view());
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->csrf_token, session->csrf_token);
  EXPECT_TRUE(again->cookie.empty());
}

TEST_F(AuthSessionTest, MissingOrWrongCsrfTokenIsForbidden) {
  auto session = env_.auth_->CreateSession(Anonymous(), env_.admin_key_.view()).value();
  EXPECT_THAT(ByCookie(session.cookie.view(), std::nullopt),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(ByCookie(session.cookie.view(), ""), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(ByCookie(session.cookie.view(), "not-the-token"),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_GE(AuditCount("auth.failed"), 3);
}

TEST_F(AuthSessionTest, ExpiredOrUnknownSessionIsUnauthenticated) {
  auto session = env_.auth_->CreateSession(Anonymous(), env_.admin_key_.view()).value();
  EXPECT_THAT(ByCookie("no-such-session", session.csrf_token),
              StatusIs(StatusCode::kUnauthenticated));
  env_.clock_.Advance(3599 * kMicrosPerSecond);
  EXPECT_THAT(ByCookie(session.cookie.view(), session.csrf_token), IsOk());
  env_.clock_.Advance(kMicrosPerSecond);
  EXPECT_THAT(ByCookie(session.cookie.view(), session.csrf_token),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(env_.auth_->GetSession(Anonymous(), session.cookie.view()),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(AuthSessionTest, AuthorizationHeaderWinsOverTheCookie) {
  auto user = env_.users_->Create(env_.AdminCtx(), "dora").value();
  auto key = env_.users_->CreateApiKey(env_.AdminCtx(), user.id, "k").value();
  auto session = env_.auth_->CreateSession(Anonymous(), env_.admin_key_.view()).value();
  const std::string header = Bearer(key.token);
  auto principal = env_.auth_->AuthenticateRequest(
      Anonymous(), RequestCredentials{.authorization = header,
                                      .session_cookie = session.cookie.view(),
                                      .csrf_token = std::nullopt});
  ASSERT_THAT(principal, IsOk());
  EXPECT_EQ(principal->id, user.id);
  // A bad Authorization header is refused even with a good cookie beside it.
  EXPECT_THAT(env_.auth_->AuthenticateRequest(
                  Anonymous(), RequestCredentials{.authorization = "Bearer nope",
                                                  .session_cookie = session.cookie.view(),
                                                  .csrf_token = session.csrf_token}),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(AuthSessionTest, AgentKeysAndWrongKeysCannotSignIn) {
  auto agent = env_.agents_->Create(env_.AdminCtx(), {"worker", ""}).value();
  EXPECT_THAT(env_.auth_->CreateSession(Anonymous(), agent.api_key.view()),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(env_.auth_->CreateSession(Anonymous(), std::string_view("cfr_key_nope")),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(AuditCount("session.create"), 2);  // both refusals audited
}

TEST_F(AuthSessionTest, SignOutEndsTheSessionAndRevokingTheKeyEndsItToo) {
  auto user = env_.users_->Create(env_.AdminCtx(), "erin").value();
  auto key = env_.users_->CreateApiKey(env_.AdminCtx(), user.id, "k").value();
  auto first = env_.auth_->CreateSession(Anonymous(), key.token.view()).value();
  auto second = env_.auth_->CreateSession(Anonymous(), key.token.view()).value();
  RequestContext ctx = Anonymous();
  ctx.principal = first.principal;
  // Only its own person ends a session.
  RequestContext other = env_.AdminCtx();
  EXPECT_THAT(env_.auth_->DeleteSession(other, first.cookie.view()),
              StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(env_.auth_->DeleteSession(ctx, first.cookie.view()), IsOk());
  EXPECT_EQ(AuditCount("session.delete"), 2);  // the refusal and the sign-out
  EXPECT_THAT(ByCookie(first.cookie.view(), first.csrf_token),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(ByCookie(second.cookie.view(), second.csrf_token), IsOk());
  ASSERT_THAT(env_.users_->RevokeApiKey(env_.AdminCtx(), user.id, key.credential.public_id),
              IsOk());
  EXPECT_THAT(ByCookie(second.cookie.view(), second.csrf_token),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(AuthSessionTest, WrongSignInsSpendTheAddressBudget) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(env_.auth_->CreateSession(Anonymous(), std::string_view("cfr_key_nope")),
                StatusIs(StatusCode::kUnauthenticated));
  }
  EXPECT_THAT(env_.auth_->CreateSession(Anonymous(), env_.admin_key_.view()),
              StatusIs(StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace coffer
