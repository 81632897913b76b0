// AccessCache and AuthService follow a change feed: what they keep is served until the feed
// reports it changed, and nothing is served from memory while the feed is not Current(). The
// caches here follow a feed the test drives by hand, as a server follows changes other servers
// make, while the writes go to the store behind their back.
#include "service/access_cache.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "crypto/api_token.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

Policy ReadPolicy(const std::string& vault_id, const std::string& agent_id) {
  Policy p;
  p.id = NewUuid();
  p.vault_id = vault_id;
  p.principal_kind = PrincipalKind::kAgent;
  p.principal_id = agent_id;
  p.path_glob = "**";
  p.permissions = kPermRead;
  p.created_at = ServiceTestEnv::kStart;
  p.created_by = "someone";
  return p;
}

// The environment, plus an AccessCache and an AuthService that follow `feed` (trusted) rather
// than the store's own feed.
class FollowedFeedTest : public ::testing::Test {
 protected:
  FollowedFeedTest()
      : cache_(*env_.store_, feed_),
        auth_(*env_.deps_, *env_.keyring_,
              AuthService::Options{.token_ttl = std::chrono::seconds(60), .changes = &feed_}) {
    feed_.TrustUntil(env_.monotonic_clock_.Now() + std::chrono::hours(1));
  }
  size_t PolicyCount(const std::string& vault_id) {
    return cache_.Policies(vault_id).value()->size();
  }

  ServiceTestEnv env_;
  ChangeFeed feed_{ChangeFeed::Writers::kShared, env_.monotonic_clock_};
  AccessCache cache_;
  AuthService auth_;
};

TEST_F(FollowedFeedTest, PoliciesAndVaultsAreServedUntilTheFeedReportsThem) {
  const std::string vault_id = env_.NewVault();
  EXPECT_EQ(PolicyCount(vault_id), 0u);
  ASSERT_TRUE(env_.store_->InsertPolicy(ReadPolicy(vault_id, "agent-1"), nullptr).ok());
  EXPECT_EQ(PolicyCount(vault_id), 0u) << "served from memory until the feed says otherwise";
  feed_.Publish(StoreChange::Policies(vault_id));
  EXPECT_EQ(PolicyCount(vault_id), 1u);

  ASSERT_TRUE(cache_.GetVault(vault_id).has_value());
  ASSERT_TRUE(env_.store_->DeleteVault(vault_id, nullptr).ok());
  EXPECT_TRUE(cache_.GetVault(vault_id).has_value());
  EXPECT_EQ(PolicyCount(vault_id), 1u);
  feed_.Publish(StoreChange::Vault(vault_id));  // the vault and its policies
  EXPECT_THAT(cache_.GetVault(vault_id), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(PolicyCount(vault_id), 0u);
}

TEST_F(FollowedFeedTest, EverythingEmptiesBothCachesAndOtherChangesNone) {
  const std::string a = env_.NewVault("a");
  const std::string b = env_.NewVault("b");
  EXPECT_EQ(PolicyCount(a), 0u);
  EXPECT_EQ(PolicyCount(b), 0u);
  ASSERT_TRUE(env_.store_->InsertPolicy(ReadPolicy(a, "agent-1"), nullptr).ok());
  ASSERT_TRUE(env_.store_->InsertPolicy(ReadPolicy(b, "agent-1"), nullptr).ok());
  feed_.Publish(StoreChange::Policies(b));
  feed_.Publish(StoreChange::Credential("unrelated"));
  EXPECT_EQ(PolicyCount(a), 0u);
  EXPECT_EQ(PolicyCount(b), 1u);
  feed_.Publish(StoreChange::Everything());
  EXPECT_EQ(PolicyCount(a), 1u);
}

TEST_F(FollowedFeedTest, NothingIsServedFromMemoryWhileTheFeedIsNotCurrent) {
  const std::string vault_id = env_.NewVault();
  EXPECT_EQ(PolicyCount(vault_id), 0u);
  feed_.TrustUntil(MonotonicTime::min());  // e.g. the listener lost its connection
  ASSERT_TRUE(env_.store_->InsertPolicy(ReadPolicy(vault_id, "agent-1"), nullptr).ok());
  EXPECT_EQ(PolicyCount(vault_id), 1u);
  ASSERT_TRUE(env_.store_->InsertPolicy(ReadPolicy(vault_id, "agent-2"), nullptr).ok());
  EXPECT_EQ(PolicyCount(vault_id), 2u);
}

TEST_F(FollowedFeedTest, ARevokedUserKeyWorksUntilTheFeedReportsIt) {
  auto user = env_.users_->Create(env_.AdminCtx(), "dana").value();
  auto key = env_.users_->CreateApiKey(env_.AdminCtx(), user.id, "k").value();
  ASSERT_TRUE(auth_.Authenticate(Bearer(key.token)).has_value());
  ASSERT_TRUE(
      env_.store_->RevokeCredential(key.credential.public_id, ServiceTestEnv::kStart, nullptr)
          .ok());
  EXPECT_TRUE(auth_.Authenticate(Bearer(key.token)).has_value()) << "from memory";
  feed_.Publish(StoreChange::Credential(key.credential.public_id));
  EXPECT_THAT(auth_.Authenticate(Bearer(key.token)), StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(FollowedFeedTest, ARevokedAgentAndItsJwtWorkUntilTheFeedReportsIt) {
  auto agent = env_.agents_->Create(env_.AdminCtx(), {"worker", ""}).value();
  const RequestContext anonymous{{}, "r", "127.0.0.1"};
  auto jwt = auth_.IssueToken(anonymous, agent.api_key.view());
  ASSERT_TRUE(jwt.has_value()) << jwt.error();
  ASSERT_TRUE(auth_.Authenticate(Bearer(jwt->token)).has_value());
  ASSERT_TRUE(env_.store_->RevokeAgent(agent.agent.id, ServiceTestEnv::kStart, nullptr).ok());
  EXPECT_TRUE(auth_.Authenticate(Bearer(agent.api_key)).has_value()) << "from memory";
  EXPECT_TRUE(auth_.Authenticate(Bearer(jwt->token)).has_value()) << "from memory";
  feed_.Publish(StoreChange::Principal(PrincipalKind::kAgent, agent.agent.id));
  EXPECT_THAT(auth_.Authenticate(Bearer(agent.api_key)), StatusIs(StatusCode::kPermissionDenied));
  // A JWT of a revoked agent is refused as one of a revoked credential (401).
  EXPECT_THAT(auth_.Authenticate(Bearer(jwt->token)), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(auth_.IssueToken(anonymous, agent.api_key.view()),
              StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(FollowedFeedTest, CredentialsAreReadFromTheStoreWhileTheFeedIsNotCurrent) {
  auto user = env_.users_->Create(env_.AdminCtx(), "erin").value();
  auto key = env_.users_->CreateApiKey(env_.AdminCtx(), user.id, "k").value();
  ASSERT_TRUE(auth_.Authenticate(Bearer(key.token)).has_value());
  env_.monotonic_clock_.Advance(std::chrono::hours(1));  // the promise lapsed
  ASSERT_TRUE(
      env_.store_->RevokeCredential(key.credential.public_id, ServiceTestEnv::kStart, nullptr)
          .ok());
  EXPECT_THAT(auth_.Authenticate(Bearer(key.token)), StatusIs(StatusCode::kUnauthenticated));
}

TEST(AccessCacheTest, OnTheStoresOwnFeedAChangeThroughTheServicesIsSeenAtOnce) {
  // The default wiring (a server on SQLite): the store reports its own writes before they
  // return, so a policy deleted is no longer granted by the very next check.
  ServiceTestEnv env;
  const std::string vault_id = env.NewVault();
  auto agent = env.agents_->Create(env.AdminCtx(), {"reader", ""}).value();
  auto policy = env.policies_->Create(env.AdminCtx(), vault_id,
                                      PolicyGrant("agent", agent.agent.id, "**", {"read"}));
  ASSERT_TRUE(policy.has_value()) << policy.error();
  const RequestContext who{.principal = env.auth_->Authenticate(Bearer(agent.api_key)).value()};
  const Vault vault = env.cache_->GetVault(vault_id).value();
  EXPECT_TRUE(env.authorizer_->Authorize(who, vault, "x", Permission::kRead).ok());
  ASSERT_TRUE(env.policies_->Delete(env.AdminCtx(), vault_id, policy->id).ok());
  EXPECT_EQ(env.authorizer_->Authorize(who, vault, "x", Permission::kRead).code(),
            StatusCode::kPermissionDenied);
  ASSERT_TRUE(env.agents_->Revoke(env.AdminCtx(), agent.agent.id).ok());
  EXPECT_THAT(env.auth_->Authenticate(Bearer(agent.api_key)),
              StatusIs(StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace coffer
