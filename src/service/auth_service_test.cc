// AuthService: API keys, JWTs and the bootstrap of a new store.
#include "service/auth_service.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/non_blocking.h"
#include "common/status_matchers.h"
#include "crypto/api_token.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(AuthServiceTest, AdminKeyAuthenticates) {
  ServiceTestEnv env;
  auto p = env.auth_->Authenticate(Bearer(env.admin_key_.view()));
  ASSERT_TRUE(p.has_value()) << p.error();
  EXPECT_TRUE(p->is_admin);
  EXPECT_EQ(p->id, env.admin_.id);
  EXPECT_EQ(p->kind, PrincipalKind::kUser);
}

TEST(AuthServiceTest, WrongSecretUnknownIdAndGarbageAreUnauthenticated) {
  ServiceTestEnv env;
  auto parsed = ParseToken(env.admin_key_.view()).value();
  // Same public id, another (well-formed) secret.
  auto other = MintToken(kTokenKindApiKey, env.keyring_->pepper(), env.random_).value();
  std::string forged(other.token.view());
  forged.replace(forged.find(other.public_id), other.public_id.size(), parsed.public_id);
  for (const std::string& header :
       {Bearer(other.token.view()), std::string("Bearer garbage"), std::string(""),
        std::string("Basic abc"), std::string("Bearer "), Bearer(forged)}) {
    auto p = env.auth_->Authenticate(header);
    EXPECT_THAT(p, StatusIs(StatusCode::kUnauthenticated, Not(HasSubstr("cfr_")))) << header;
  }
  EXPECT_THAT(env.auth_->Authenticate(std::nullopt), StatusIs(StatusCode::kUnauthenticated));
}

TEST(AuthServiceTest, JwtWorksUntilItExpires) {
  ServiceTestEnv env;
  auto token = env.auth_->IssueToken(RequestContext{{}, "r", "127.0.0.1"}, env.admin_key_.view());
  ASSERT_TRUE(token.has_value()) << token.error();
  EXPECT_EQ(token->expires_in_seconds, 60);
  auto p = env.auth_->Authenticate(Bearer(token->token.view()));
  ASSERT_TRUE(p.has_value()) << p.error();
  EXPECT_TRUE(p->is_admin);
  env.clock_.Advance(61 * kMicrosPerSecond);
  EXPECT_THAT(env.auth_->Authenticate(Bearer(token->token.view())),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(env.auth_->IssueToken(RequestContext{{}, "r", "127.0.0.1"}, "not-a-key"),
              StatusIs(StatusCode::kUnauthenticated));
}

TEST(AuthServiceTest, InitializeRefusesASecondTime) {
  ServiceTestEnv env;
  auto again = InitializeStore(*env.store_, env.root_key_, env.random_, env.clock_);
  EXPECT_THAT(again, StatusIs(StatusCode::kAlreadyExists));
}

}  // namespace
}  // namespace coffer

namespace coffer {
namespace {

TEST(AuthServiceTest, UnknownIdsAreRememberedButNewKeysStillWork) {
  ServiceTestEnv env;
  // A well-formed key whose id the store has never seen: refused, and remembered as unknown.
  auto stranger = MintToken(kTokenKindApiKey, env.keyring_->pepper(), env.random_).value();
  EXPECT_THAT(env.auth_->Authenticate("Bearer " + std::string(stranger.token.view())),
              StatusIs(StatusCode::kUnauthenticated));
  // Keys created afterwards authenticate at once.
  auto user = env.users_->Create(env.AdminCtx(), "carol").value();
  auto key = env.users_->CreateApiKey(env.AdminCtx(), user.id, "k").value();
  EXPECT_TRUE(env.auth_->Authenticate("Bearer " + std::string(key.token.view())).has_value());
}

}  // namespace
}  // namespace coffer

// --- refused credentials, limited per client address --------------------------------------------

namespace coffer {
namespace {

std::vector<AuditEvent> AuditOf(ServiceTestEnv& env) { return env.store_->ListAudit({}).value(); }

int64_t Count(const std::vector<AuditEvent>& events, std::string_view action) {
  return std::count_if(events.begin(), events.end(),
                       [&](const AuditEvent& e) { return e.action == action; });
}

// An AuthService over the test store with a small budget: 3 refusals at once, then 1 a second.
std::unique_ptr<AuthService> LimitedAuth(ServiceTestEnv& env) {
  AuthService::Options options;
  options.token_ttl = std::chrono::seconds(60);
  options.failure_limit = {.burst = 3, .per_minute = 60};
  return std::make_unique<AuthService>(*env.deps_, *env.keyring_, options);
}

RequestContext From(std::string_view ip) { return RequestContext{{}, "req", std::string(ip)}; }

TEST(AuthServiceLimitTest, PastTheBurstAnAddressIsRefusedUnauditedAndCounted) {
  ServiceTestEnv env;
  auto auth = LimitedAuth(env);
  const std::string wrong = "Bearer x";
  for (int i = 0; i < 3; ++i) {
    auto p = auth->AuthenticateRequest(From("203.0.113.5"), wrong);
    ASSERT_THAT(p, StatusIs(StatusCode::kUnauthenticated));
    EXPECT_EQ(p.error().payload().retry_after.count(), 0) << "no wait for a refusal";
  }
  EXPECT_EQ(Count(AuditOf(env), "auth.failed"), 3);
  for (int i = 0; i < 50; ++i) {
    auto p = auth->AuthenticateRequest(From("203.0.113.5"), wrong);
    ASSERT_THAT(p, StatusIs(StatusCode::kResourceExhausted));
    // The wait until the next token: the API's Retry-After.
    EXPECT_GT(p.error().payload().retry_after.count(), 0);
    EXPECT_LE(p.error().payload().retry_after, std::chrono::seconds(1));
  }
  // A valid key from that address is refused too: the answer must not tell a guesser which
  // credential is right.
  const std::string admin = "Bearer " + std::string(env.admin_key_.view());
  EXPECT_THAT(auth->AuthenticateRequest(From("203.0.113.5"), admin),
              StatusIs(StatusCode::kResourceExhausted));
  // Another address is not affected.
  EXPECT_TRUE(auth->AuthenticateRequest(From("203.0.113.6"), admin).has_value());
  EXPECT_THAT(auth->AuthenticateRequest(From("203.0.113.6"), wrong),
              StatusIs(StatusCode::kUnauthenticated));
  std::vector<AuditEvent> events = AuditOf(env);
  EXPECT_EQ(Count(events, "auth.failed"), 4) << "the refusals past the budget are not audited";

  // The summary names the address and the count, once.
  ASSERT_TRUE(auth->AppendFailureSummaries(false).ok());
  events = AuditOf(env);
  ASSERT_EQ(Count(events, "auth.failed.summary"), 1);
  const AuditEvent& summary = events.back();
  EXPECT_EQ(summary.action, "auth.failed.summary");
  EXPECT_EQ(summary.client_ip, "203.0.113.5");
  EXPECT_EQ(summary.count, 51);
  EXPECT_EQ(summary.outcome, "denied");
  EXPECT_EQ(summary.status, "RESOURCE_EXHAUSTED");
  EXPECT_EQ(summary.actor_kind, "anonymous");
  EXPECT_TRUE(env.audit_->Verify().value().ok);
  ASSERT_TRUE(auth->AppendFailureSummaries(false).ok());
  EXPECT_EQ(Count(AuditOf(env), "auth.failed.summary"), 1) << "nothing more to report";

  // A second later one more attempt is allowed (and audited).
  env.clock_.Advance(kMicrosPerSecond);
  EXPECT_THAT(auth->AuthenticateRequest(From("203.0.113.5"), wrong),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(auth->AuthenticateRequest(From("203.0.113.5"), wrong),
              StatusIs(StatusCode::kResourceExhausted));
  // Within the minute no second summary; at shutdown what is left is appended.
  ASSERT_TRUE(auth->AppendFailureSummaries(false).ok());
  EXPECT_EQ(Count(AuditOf(env), "auth.failed.summary"), 1);
  ASSERT_THAT(auth->StopFailureSummaries(), IsOk());
  events = AuditOf(env);
  ASSERT_EQ(Count(events, "auth.failed.summary"), 2);
  EXPECT_EQ(events.back().count, 1);
}

TEST(AuthServiceLimitTest, SuccessesSpendNothing) {
  ServiceTestEnv env;
  auto auth = LimitedAuth(env);
  const std::string admin = "Bearer " + std::string(env.admin_key_.view());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(auth->AuthenticateRequest(From("203.0.113.7"), admin).has_value());
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(auth->AuthenticateRequest(From("203.0.113.7"), "Bearer x"),
                StatusIs(StatusCode::kUnauthenticated));
  }
}

TEST(AuthServiceLimitTest, TokenExchangeIsLimitedToo) {
  ServiceTestEnv env;
  auto auth = LimitedAuth(env);
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(auth->IssueToken(From("198.51.100.2"), "not-a-key"),
                StatusIs(StatusCode::kUnauthenticated));
  }
  StatusOr<std::string_view> refused_body = Err(InvalidArgumentError("request body refused"));
  auto limited = auth->IssueToken(From("198.51.100.2"), refused_body);
  ASSERT_THAT(limited, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_GT(limited.error().payload().retry_after.count(), 0);
  EXPECT_THAT(auth->IssueToken(From("198.51.100.2"), env.admin_key_.view()),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(Count(AuditOf(env), "auth.token"), 3);
  EXPECT_TRUE(auth->IssueToken(From("198.51.100.3"), env.admin_key_.view()).has_value());
}

// On an HTTP I/O thread an attempt whose audit event would wait is thrown away and run again on
// a worker: only the run that counts may spend a token.
TEST(AuthServiceLimitTest, AnAttemptThrownAwaySpendsNothing) {
  ServiceTestEnv env;
  auto auth = LimitedAuth(env);
  for (int i = 0; i < 3; ++i) {
    {
      NonBlockingScope scope;
      auto p = auth->AuthenticateRequest(From("203.0.113.8"), "Bearer x");
      ASSERT_FALSE(p.has_value());
      ASSERT_TRUE(scope.refused()) << "the audit append should have refused to wait";
    }
    auto p = auth->AuthenticateRequest(From("203.0.113.8"), "Bearer x");
    EXPECT_THAT(p, StatusIs(StatusCode::kUnauthenticated)) << i;
  }
  EXPECT_EQ(Count(AuditOf(env), "auth.failed"), 3);
  EXPECT_THAT(auth->AuthenticateRequest(From("203.0.113.8"), "Bearer x"),
              StatusIs(StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace coffer
