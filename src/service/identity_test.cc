// Issue 3 at the service level: policies, agents and their rotation, API keys, the audit chain
// and fail-closed auditing, on a real store with a fake clock.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "common/status_matchers.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

class IdentityTest : public ::testing::Test {
 protected:
  RequestContext Ctx(const Principal& p) { return {p, "req", "10.0.0.1"}; }
  RequestContext Anonymous(std::string ip = "10.0.0.1") { return {{}, "req", std::move(ip)}; }

  AgentWithCredentials NewAgent(std::string name = "bot") {
    return env_.agents_->Create(env_.AdminCtx(), {std::move(name), ""}).value();
  }
  Principal AgentPrincipal(const AgentWithCredentials& a) {
    return env_.auth_->Authenticate(Bearer(a.api_key)).value();
  }
  void Grant(const std::string& agent_id, std::string pattern, std::vector<std::string> perms,
             std::optional<UnixMicros> expires = std::nullopt) {
    CreatePolicyRequest r =
        PolicyGrant("agent", agent_id, std::move(pattern), std::move(perms), expires);
    auto p = env_.policies_->Create(env_.AdminCtx(), vault_, std::move(r));
    ASSERT_TRUE(p.has_value()) << p.error();
  }
  void PutAsAdmin(std::string_view path, std::string_view value, int64_t max_reads = 0) {
    PutSecretRequest r;
    r.type = "api_key";
    r.value = SecretBuffer(value);
    r.max_access_count = max_reads;
    ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, path, std::move(r)).has_value());
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault();
};

TEST_F(IdentityTest, PolicyGlobsAndPermissionsAreEnforced) {
  auto agent = NewAgent();
  const Principal p = AgentPrincipal(agent);
  PutAsAdmin("api-keys/openai", "sk-1");
  PutAsAdmin("api-keys-prod/x", "sk-2");
  PutAsAdmin("api-keys/a/b", "sk-3");
  Grant(agent.agent.id, "api-keys/*", {"read"});
  EXPECT_TRUE(env_.secrets_->Get(Ctx(p), vault_, "api-keys/openai").has_value());
  for (auto path : {"api-keys-prod/x", "api-keys/a/b", "db/x"}) {
    EXPECT_THAT(env_.secrets_->Get(Ctx(p), vault_, path), StatusIs(StatusCode::kPermissionDenied))
        << path;
  }
  // Existing and missing paths answer alike.
  auto existing = env_.secrets_->Get(Ctx(p), vault_, "api-keys-prod/x");
  auto missing = env_.secrets_->Get(Ctx(p), vault_, "api-keys-prod/none");
  ASSERT_THAT(existing, StatusIs(StatusCode::kPermissionDenied));
  ASSERT_THAT(missing, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_EQ(existing.error(), missing.error());
  PutSecretRequest put;
  put.type = "note";
  put.value = SecretBuffer("v");
  EXPECT_THAT(env_.secrets_->Put(Ctx(p), vault_, "api-keys/openai", std::move(put)),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(env_.secrets_->Rotate(Ctx(p), vault_, "api-keys/openai", {}),
              StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(IdentityTest, RotateNeedsRotateOrWrite) {
  auto a = NewAgent("a");
  auto b = NewAgent("b");
  Grant(a.agent.id, "db/**", {"rotate"});
  Grant(b.agent.id, "db/**", {"write"});
  EXPECT_TRUE(env_.secrets_->Rotate(Ctx(AgentPrincipal(a)), vault_, "db/pw", {}).has_value());
  EXPECT_TRUE(env_.secrets_->Rotate(Ctx(AgentPrincipal(b)), vault_, "db/deep/pw", {}).has_value());
}

TEST_F(IdentityTest, ExpiredAndDeletedPoliciesGrantNothing) {
  auto agent = NewAgent();
  const Principal p = AgentPrincipal(agent);
  PutAsAdmin("x", "v");
  Grant(agent.agent.id, "**", {"read", "list"}, env_.clock_.Now() + 10 * kMicrosPerSecond);
  EXPECT_TRUE(env_.secrets_->Get(Ctx(p), vault_, "x").has_value());
  EXPECT_EQ(env_.vaults_->List(Ctx(p)).value().size(), 1u);
  env_.clock_.Advance(11 * kMicrosPerSecond);
  EXPECT_THAT(env_.secrets_->Get(Ctx(p), vault_, "x"), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_TRUE(env_.vaults_->List(Ctx(p)).value().empty());

  Grant(agent.agent.id, "**", {"read"});
  EXPECT_TRUE(env_.secrets_->Get(Ctx(p), vault_, "x").has_value());
  auto policies = env_.policies_->List(env_.AdminCtx(), vault_).value();
  for (const Policy& policy : policies) {
    ASSERT_TRUE(env_.policies_->Delete(env_.AdminCtx(), vault_, policy.id).ok());
  }
  EXPECT_THAT(env_.secrets_->Get(Ctx(p), vault_, "x"), StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(IdentityTest, ListingShowsOnlyListablePaths) {
  auto agent = NewAgent();
  const Principal p = AgentPrincipal(agent);
  for (auto path : {"team-a/one", "team-a/two", "team-b/three"}) PutAsAdmin(path, "v");
  Grant(agent.agent.id, "team-a/*", {"list"});
  auto page = env_.secrets_->List(Ctx(p), vault_, "", "", std::nullopt).value();
  ASSERT_EQ(page.secrets.size(), 2u);
  EXPECT_EQ(page.secrets[0].path, "team-a/one");
  EXPECT_THAT(env_.secrets_->List(Ctx(p), vault_, "team-b/", "", std::nullopt),
              StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(IdentityTest, HumanRotationRefusesOldCredentialsAtOnce) {
  auto agent = NewAgent();
  EXPECT_TRUE(env_.auth_->Authenticate(Bearer(agent.api_key)).has_value());  // now cached
  auto rotated = env_.agents_->RotateKey(env_.AdminCtx(), agent.agent.id);
  ASSERT_TRUE(rotated.has_value()) << rotated.error();
  EXPECT_THAT(env_.auth_->Authenticate(Bearer(agent.api_key)),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_TRUE(env_.auth_->Authenticate(Bearer(rotated->api_key)).has_value());
}

TEST_F(IdentityTest, SelfRotationFollowsSeed003) {
  auto agent = NewAgent();
  auto ok = env_.agents_->SelfRotate(Anonymous("10.0.0.1"), Bearer(agent.api_key),
                                     std::optional<std::string_view>(agent.rotation_secret.view()));
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(ok->agent.id, agent.agent.id);
  // Both old credentials are dead, the new pair works.
  EXPECT_THAT(env_.auth_->Authenticate(Bearer(agent.api_key)),
              StatusIs(StatusCode::kUnauthenticated));
  auto again =
      env_.agents_->SelfRotate(Anonymous("10.0.0.2"), Bearer(ok->api_key),
                               std::optional<std::string_view>(agent.rotation_secret.view()));
  EXPECT_THAT(again, StatusIs(StatusCode::kUnauthenticated));
  auto missing = env_.agents_->SelfRotate(Anonymous("10.0.0.3"), Bearer(ok->api_key),
                                          std::optional<std::string_view>());
  EXPECT_THAT(missing, StatusIs(StatusCode::kInvalidArgument));
  auto garbage = env_.agents_->SelfRotate(Anonymous("10.0.0.4"), "Bearer nope",
                                          std::optional<std::string_view>("x"));
  EXPECT_THAT(garbage, StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(IdentityTest, SelfRotationRateLimitCountsEveryRequestPerIp) {
  auto agent = NewAgent();
  for (int i = 0; i < 3; ++i) {
    auto r = env_.agents_->SelfRotate(Anonymous("10.9.9.9"), "Bearer bad",
                                      std::optional<std::string_view>("x"));
    EXPECT_THAT(r, StatusIs(StatusCode::kUnauthenticated));
  }
  auto limited =
      env_.agents_->SelfRotate(Anonymous("10.9.9.9"), Bearer(agent.api_key),
                               std::optional<std::string_view>(agent.rotation_secret.view()));
  ASSERT_THAT(limited, StatusIs(StatusCode::kResourceExhausted));
  EXPECT_GT(limited.error().payload().retry_after.count(), 0);
  EXPECT_LE(limited.error().payload().retry_after.count(), kSelfRotateWindow);
  // Another IP has its own budget; the window slides.
  auto other =
      env_.agents_->SelfRotate(Anonymous("10.9.9.8"), Bearer(agent.api_key),
                               std::optional<std::string_view>(agent.rotation_secret.view()));
  ASSERT_TRUE(other.has_value()) << other.error();
  env_.clock_.Advance(kSelfRotateWindow + 1);
  auto later =
      env_.agents_->SelfRotate(Anonymous("10.9.9.9"), Bearer(other->api_key),
                               std::optional<std::string_view>(other->rotation_secret.view()));
  EXPECT_TRUE(later.has_value());
}

TEST_F(IdentityTest, ConcurrentSelfRotationsExactlyOneWins) {
  auto agent = NewAgent();
  std::atomic<int> ok{0}, unauthenticated{0};
  std::barrier start(2);
  auto rotate = [&](std::string ip) {
    start.arrive_and_wait();
    auto r =
        env_.agents_->SelfRotate(Anonymous(ip), Bearer(agent.api_key),
                                 std::optional<std::string_view>(agent.rotation_secret.view()));
    if (r.has_value()) {
      ++ok;
    } else if (r.error().code() == StatusCode::kUnauthenticated) {
      ++unauthenticated;
    }
  };
  std::thread a(rotate, "10.1.1.1");
  std::thread b(rotate, "10.1.1.2");
  a.join();
  b.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(unauthenticated.load(), 1);
}

TEST_F(IdentityTest, RevokedAgentIsForbiddenEverywhere) {
  auto agent = NewAgent();
  Grant(agent.agent.id, "**", {"read"});
  ASSERT_TRUE(env_.agents_->Revoke(env_.AdminCtx(), agent.agent.id).ok());
  EXPECT_FALSE(env_.auth_->Authenticate(Bearer(agent.api_key)).has_value());
  auto r = env_.agents_->SelfRotate(Anonymous(), Bearer(agent.api_key),
                                    std::optional<std::string_view>(agent.rotation_secret.view()));
  EXPECT_THAT(r, StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(IdentityTest, RevokedUserKeyStopsWorking) {
  auto user = env_.users_->Create(env_.AdminCtx(), "alice").value();
  auto k1 = env_.users_->CreateApiKey(env_.AdminCtx(), user.id, "laptop").value();
  auto k2 = env_.users_->CreateApiKey(env_.AdminCtx(), user.id, "ci").value();
  auto alice = env_.auth_->Authenticate(Bearer(k1.token)).value();
  EXPECT_FALSE(alice.is_admin);
  EXPECT_THAT(env_.users_->Create(Ctx(alice), "bob"), StatusIs(StatusCode::kPermissionDenied));
  ASSERT_TRUE(env_.users_->RevokeApiKey(Ctx(alice), user.id, k1.credential.public_id).ok());
  EXPECT_THAT(env_.auth_->Authenticate(Bearer(k1.token)), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_TRUE(env_.auth_->Authenticate(Bearer(k2.token)).has_value());
  auto keys = env_.users_->ListApiKeys(Ctx(alice), user.id).value();
  ASSERT_EQ(keys.size(), 2u);
}

TEST_F(IdentityTest, DescriptionsAreFreeTextWithoutNul) {
  // Any UTF-8 up to 1024 bytes is kept; a NUL (which PostgreSQL's text cannot hold) or a longer
  // text is refused by the service, on every store alike.
  const std::string text = "Prod \xE2\x80\x94 'quoted'; -- not SQL";
  EXPECT_EQ(env_.vaults_->Create(env_.AdminCtx(), {"described", text}).value().description, text);
  EXPECT_EQ(
      env_.agents_->Create(env_.AdminCtx(), {"described-bot", text}).value().agent.description,
      text);
  for (const std::string& bad : {std::string("a\0b", 3), std::string(1025, 'x')}) {
    EXPECT_THAT(env_.vaults_->Create(env_.AdminCtx(), {"refused", bad}),
                StatusIs(StatusCode::kInvalidArgument));
    EXPECT_THAT(env_.agents_->Create(env_.AdminCtx(), {"refused-bot", bad}),
                StatusIs(StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(
      env_.vaults_->Create(env_.AdminCtx(), {"nul", std::string("a\0b", 3)}),
      StatusIs(StatusCode::kInvalidArgument, "description must not contain a NUL character"));
}

TEST_F(IdentityTest, AuditChainVerifiesAndNamesTheActor) {
  PutAsAdmin("a", "v");
  ASSERT_TRUE(env_.secrets_->Get(env_.AdminCtx(), vault_, "a").has_value());
  auto events = env_.audit_->List(AuditQuery{}).value();
  ASSERT_GE(events.size(), 3u);  // vault.create, secret.write, secret.read
  EXPECT_EQ(events.back().action, "secret.read");
  EXPECT_EQ(events.back().actor_id, env_.admin_.id);
  EXPECT_EQ(events.back().version, 1);
  EXPECT_EQ(events.back().outcome, "success");
  auto verification = env_.audit_->Verify().value();
  EXPECT_TRUE(verification.ok);
  EXPECT_EQ(verification.events_checked, static_cast<int64_t>(events.size()));
}

TEST_F(IdentityTest, FailClosedWhenTheAuditCannotBeWritten) {
  PutAsAdmin("counted", "v", /*max_reads=*/2);
  PutAsAdmin("plain", "v");
  env_.BreakAuditTable();
  auto read = env_.secrets_->Get(env_.AdminCtx(), vault_, "counted");
  EXPECT_THAT(read, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(env_.secrets_->Get(env_.AdminCtx(), vault_, "plain"),
              StatusIs(StatusCode::kUnavailable));
  PutSecretRequest put;
  put.type = "note";
  put.value = SecretBuffer("w");
  EXPECT_FALSE(env_.secrets_->Put(env_.AdminCtx(), vault_, "new", std::move(put)).has_value());
  // The counted read was not spent, and the failed write left nothing.
  auto version =
      env_.store_->GetSecretVersion(vault_, "counted", VersionSelector::LatestAny()).value();
  EXPECT_EQ(version.access_count, 0);
  EXPECT_THAT(env_.store_->GetSecretVersion(vault_, "new", VersionSelector::LatestAny()),
              StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace coffer
