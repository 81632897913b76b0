// AuthService: API keys, JWTs and the bootstrap of a new store.
#include "service/auth_service.h"

#include <gtest/gtest.h>

#include "crypto/api_token.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

std::string Bearer(std::string_view token) { return "Bearer " + std::string(token); }

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
    ASSERT_FALSE(p.has_value()) << header;
    EXPECT_EQ(p.error().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(p.error().message().find("cfr_"), std::string::npos);
  }
  EXPECT_EQ(env.auth_->Authenticate(std::nullopt).error().code(), StatusCode::kUnauthenticated);
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
  EXPECT_EQ(env.auth_->Authenticate(Bearer(token->token.view())).error().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(env.auth_->IssueToken(RequestContext{{}, "r", "127.0.0.1"}, "not-a-key").error().code(), StatusCode::kUnauthenticated);
}

TEST(AuthServiceTest, InitializeRefusesASecondTime) {
  ServiceTestEnv env;
  auto again = InitializeStore(*env.store_, env.root_key_, env.random_, env.clock_);
  EXPECT_EQ(again.error().code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace coffer

namespace coffer {
namespace {

TEST(AuthServiceTest, UnknownIdsAreRememberedButNewKeysStillWork) {
  ServiceTestEnv env;
  // A well-formed key whose id the store has never seen: refused, and remembered as unknown.
  auto stranger = MintToken(kTokenKindApiKey, env.keyring_->pepper(), env.random_).value();
  EXPECT_EQ(env.auth_->Authenticate("Bearer " + std::string(stranger.token.view())).error().code(),
            StatusCode::kUnauthenticated);
  // Keys created afterwards authenticate at once.
  auto user = env.users_->Create(env.AdminCtx(), "carol").value();
  auto key = env.users_->CreateApiKey(env.AdminCtx(), user.id, "k").value();
  EXPECT_TRUE(env.auth_->Authenticate("Bearer " + std::string(key.token.view())).has_value());
}

}  // namespace
}  // namespace coffer
