// The authorizer's decisions with conditions, effects and updates, on a real store with a fake
// clock: a decision follows the clock across a time window's boundary and the caller's address
// with the policies already in memory, a deny wins over any allow, and an update is in force for
// the very next decision.
#include "service/authorizer.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

constexpr UnixMicros kHour = 3600 * kMicrosPerSecond;

class AuthorizerTest : public ::testing::Test {
 protected:
  AuthorizerTest() {
    agent_ = env_.agents_->Create(env_.AdminCtx(), {"bot", ""}).value();
    principal_ = env_.auth_->Authenticate(Bearer(agent_.api_key)).value();
  }

  RequestContext From(std::string ip) { return {principal_, "req", std::move(ip)}; }

  Policy Grant(std::vector<std::string> permissions, std::string effect = "allow",
               PolicyConditions conditions = {}, std::string pattern = "**", int64_t priority = 0) {
    CreatePolicyRequest r =
        PolicyGrant("agent", agent_.agent.id, std::move(pattern), std::move(permissions));
    r.effect = std::move(effect);
    r.conditions = std::move(conditions);
    r.priority = priority;
    auto p = env_.policies_->Create(env_.AdminCtx(), vault_id_, std::move(r));
    EXPECT_THAT(p, IsOk());
    return p.value_or(Policy{});
  }

  Status Read(const RequestContext& ctx, std::string_view path = "db/main") {
    return env_.authorizer_->Authorize(ctx, Vault(), path, Permission::kRead);
  }
  coffer::Vault Vault() { return env_.cache_->GetVault(vault_id_).value(); }

  static PolicyConditions Window(int start, int end, uint8_t days = kAllDays) {
    return PolicyConditions{.time_window = TimeWindow{start, end, days, "UTC"}};
  }
  static PolicyConditions Networks(std::initializer_list<const char*> texts) {
    PolicyConditions c;
    for (const char* t : texts) c.ip_allowlist.push_back(ParseIpNetwork(t).value());
    return c;
  }

  ServiceTestEnv env_;  // the clock starts at 2026-01-01T00:00:00Z, a Thursday
  std::string vault_id_ = env_.NewVault();
  AgentWithCredentials agent_;
  Principal principal_;
};

TEST_F(AuthorizerTest, ADecisionFollowsTheClockAcrossAWindowsBoundary) {
  Grant({"read"}, "allow", Window(9, 17));
  const RequestContext ctx = From("192.0.2.1");
  env_.clock_.Set(ServiceTestEnv::kStart + 9 * kHour - 1);
  EXPECT_THAT(Read(ctx), StatusIs(StatusCode::kPermissionDenied));
  env_.clock_.Advance(1);
  EXPECT_THAT(Read(ctx), IsOk());  // the policies are in memory now
  env_.clock_.Set(ServiceTestEnv::kStart + 17 * kHour - 1);
  EXPECT_THAT(Read(ctx), IsOk());
  env_.clock_.Advance(1);  // no change reported: only the clock moved
  EXPECT_THAT(Read(ctx), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(env_.authorizer_->CanSeeVault(ctx, Vault()), IsOkAndHolds(false));
}

TEST_F(AuthorizerTest, DaysOfTheWeekAreChecked) {
  Grant({"read"}, "allow", Window(0, 24, 0b0111110));  // Monday to Friday
  const RequestContext ctx = From("192.0.2.1");
  EXPECT_THAT(Read(ctx), IsOk());  // Thursday
  env_.clock_.Advance(2 * 24 * kHour);
  EXPECT_THAT(Read(ctx), StatusIs(StatusCode::kPermissionDenied));  // Saturday
}

TEST_F(AuthorizerTest, AnAllowListIsCheckedForEachCallersAddress) {
  Grant({"read", "list"}, "allow", Networks({"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_THAT(Read(From("10.1.2.3")), IsOk());
  EXPECT_THAT(Read(From("2001:db8::1")), IsOk());
  for (const char* ip : {"11.0.0.1", "2001:db9::1", "::ffff:11.0.0.1", "", "garbage"}) {
    EXPECT_THAT(Read(From(ip)), StatusIs(StatusCode::kPermissionDenied)) << ip;
    EXPECT_THAT(env_.authorizer_->AuthorizeListing(From(ip), Vault(), ""),
                StatusIs(StatusCode::kPermissionDenied))
        << ip;
  }
}

TEST_F(AuthorizerTest, ADenyWinsWhateverThePriorities) {
  Grant({"read", "list"}, "allow", {}, "**", 1000);
  Grant({"read", "list"}, "deny", {}, "api-keys/*", 0);
  const RequestContext ctx = From("192.0.2.1");
  EXPECT_THAT(Read(ctx, "db/main"), IsOk());
  Status denied = Read(ctx, "api-keys/openai");
  EXPECT_THAT(denied, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_NE(denied.message().find("deny"), std::string::npos);
  auto filter = env_.authorizer_->ListablePaths(ctx, Vault());
  ASSERT_THAT(filter, IsOk());
  EXPECT_TRUE(filter->Matches("db/main"));
  EXPECT_FALSE(filter->Matches("api-keys/openai"));
  EXPECT_THAT(env_.authorizer_->CanSeeVault(ctx, Vault()), IsOkAndHolds(true));
}

TEST_F(AuthorizerTest, ADenyOnEitherAlternativeRefuses) {
  Grant({"write"});
  Grant({"rotate"}, "deny");
  EXPECT_THAT(env_.authorizer_->Authorize(From("192.0.2.1"), Vault(), "db/main",
                                          Permission::kRotate, Permission::kWrite),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(
      env_.authorizer_->Authorize(From("192.0.2.1"), Vault(), "db/main", Permission::kWrite),
      IsOk());
}

TEST_F(AuthorizerTest, UseAloneAllowsUsingABindingButNotReadingTheValue) {
  const Policy policy = Grant({"use"});
  EXPECT_EQ(PermissionNames(policy.permissions), (std::vector<std::string_view>{"use"}));
  const RequestContext ctx = From("192.0.2.1");
  EXPECT_THAT(
      env_.authorizer_->Authorize(ctx, Vault(), "db/main", Permission::kUse, Permission::kRead),
      IsOk());
  Status read = Read(ctx);
  EXPECT_THAT(read, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_NE(read.message().find("'read'"), std::string::npos);
  // And read alone is enough to use one.
  Grant({"read"}, "allow", {}, "other/**");
  EXPECT_THAT(
      env_.authorizer_->Authorize(ctx, Vault(), "other/x", Permission::kUse, Permission::kRead),
      IsOk());
}

TEST_F(AuthorizerTest, ADenyWithAnAddressConditionHoldsWhenTheAddressIsUnknown) {
  Grant({"read"});
  Grant({"read"}, "deny", Networks({"10.0.0.0/8"}));
  EXPECT_THAT(Read(From("192.0.2.1")), IsOk());
  EXPECT_THAT(Read(From("10.0.0.1")), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(Read(From("")), StatusIs(StatusCode::kPermissionDenied));
}

TEST_F(AuthorizerTest, AnUpdateIsInForceForTheNextDecision) {
  const Policy policy = Grant({"read"});
  const RequestContext ctx = From("192.0.2.1");
  ASSERT_THAT(Read(ctx), IsOk());  // cached
  UpdatePolicyRequest to_deny;
  to_deny.effect = "deny";
  auto updated = env_.policies_->Update(env_.AdminCtx(), vault_id_, policy.id, to_deny);
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ(updated->effect, PolicyEffect::kDeny);
  EXPECT_EQ(updated->updated_at, env_.clock_.Now());
  EXPECT_THAT(Read(ctx), StatusIs(StatusCode::kPermissionDenied));
  UpdatePolicyRequest narrower;
  narrower.effect = "allow";
  narrower.conditions = Networks({"10.0.0.0/8"});
  ASSERT_THAT(env_.policies_->Update(env_.AdminCtx(), vault_id_, policy.id, narrower), IsOk());
  EXPECT_THAT(Read(ctx), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(Read(From("10.9.9.9")), IsOk());
  auto stored = env_.store_->GetPolicy(vault_id_, policy.id);
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->conditions, narrower.conditions);
  EXPECT_EQ(stored->path_glob, "**");
}

TEST_F(AuthorizerTest, OnlyWhoMayCreateAPolicyMayUpdateIt) {
  const Policy policy = Grant({"read"});
  UpdatePolicyRequest wider;
  wider.permissions = std::vector<std::string>{"read", "write"};
  auto by_agent = env_.policies_->Update(From("192.0.2.1"), vault_id_, policy.id, wider);
  EXPECT_THAT(by_agent, StatusIs(StatusCode::kPermissionDenied));
  auto missing = env_.policies_->Update(env_.AdminCtx(), vault_id_, NewUuid(), wider);
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  UpdatePolicyRequest past;
  past.expires_at = std::optional<UnixMicros>(env_.clock_.Now());
  EXPECT_THAT(env_.policies_->Update(env_.AdminCtx(), vault_id_, policy.id, past),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(env_.store_->GetPolicy(vault_id_, policy.id)->permissions, kPermRead);
}

}  // namespace
}  // namespace coffer
