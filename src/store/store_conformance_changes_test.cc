// Store conformance tests for the change feed: every mutation of what the layers above keep in
// memory (credentials, agents, vaults, policies), and of a secret (for those waiting on it), is
// published to Changes() before the call returns, whatever its outcome; nothing else is.
#include <functional>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

// What `mutate` published to the store's feed while it ran.
std::vector<StoreChange> Published(Store& store, const std::function<void()>& mutate) {
  std::vector<StoreChange> seen;
  auto subscription = store.Changes().Watch([&](const StoreChange& c) { seen.push_back(c); });
  mutate();
  return seen;
}

using Changes = std::vector<StoreChange>;

TEST_P(StoreConformanceTest, EveryMutationOfCachedRecordsIsPublishedBeforeItReturns) {
  Store& s = store();
  Vault v{NewUuid(), "v", "", "owner-1", kT0};
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.InsertVault(v, nullptr), IsOk()); }),
            Changes{StoreChange::Vault(v.id)});

  Policy p;
  p.id = NewUuid();
  p.vault_id = v.id;
  p.principal_id = "agent-1";
  p.path_glob = "**";
  p.permissions = kPermRead;
  p.created_at = kT0;
  p.created_by = "owner-1";
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.InsertPolicy(p, nullptr), IsOk()); }),
            Changes{StoreChange::Policies(v.id)});
  p.effect = PolicyEffect::kDeny;
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.UpdatePolicy(p, nullptr), IsOk()); }),
            Changes{StoreChange::Policies(v.id)});
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.DeletePolicy(v.id, p.id, nullptr), IsOk()); }),
            Changes{StoreChange::Policies(v.id)});

  const std::string user_id = NewUuid();
  Credential key = AgentCredential(user_id, "user-key");
  key.principal_kind = PrincipalKind::kUser;
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.InsertCredential(key, nullptr), IsOk()); }),
            Changes{StoreChange::Credential("user-key")});
  EXPECT_EQ(
      Published(s, [&] { ASSERT_THAT(s.RevokeCredential("user-key", kT0, nullptr), IsOk()); }),
      Changes{StoreChange::Credential("user-key")});

  Agent agent{NewUuid(), "worker", "", "owner-1", kT0, std::nullopt, std::nullopt, std::nullopt};
  const StoreChange agent_change = StoreChange::Principal(PrincipalKind::kAgent, agent.id);
  EXPECT_EQ(Published(s,
                      [&] {
                        ASSERT_THAT(s.InsertAgent(agent, {AgentCredential(agent.id, "agent-key-1")},
                                                  nullptr),
                                    IsOk());
                      }),
            Changes{agent_change});
  EXPECT_EQ(Published(s,
                      [&] {
                        ASSERT_THAT(
                            s.ReplaceAgentCredentials(agent.id, {"agent-key-1"},
                                                      {AgentCredential(agent.id, "agent-key-2")},
                                                      kT0 + 1, nullptr),
                            IsOk());
                      }),
            Changes{agent_change});
  EXPECT_EQ(Published(s,
                      [&] {
                        ASSERT_THAT(s.UpdateAgent(agent.id, {.is_active = false}, kT0 + 2, nullptr),
                                    IsOk());
                      }),
            Changes{agent_change});
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.RevokeAgent(agent.id, kT0 + 2, nullptr), IsOk()); }),
            Changes{agent_change});

  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.DeleteVault(v.id, nullptr), IsOk()); }),
            Changes{StoreChange::Vault(v.id)});
}

TEST_P(StoreConformanceTest, AFailedMutationIsPublishedToo) {
  // The caller cannot always know whether a failed write happened (a COMMIT whose answer was
  // lost), so a cache forgets what it may have changed either way.
  Store& s = store();
  EXPECT_EQ(Published(s,
                      [&] {
                        EXPECT_THAT(s.RevokeCredential("no-such-key", kT0, nullptr),
                                    StatusIs(StatusCode::kNotFound));
                      }),
            Changes{StoreChange::Credential("no-such-key")});
  const std::string missing = NewUuid();
  EXPECT_EQ(
      Published(
          s,
          [&] { EXPECT_THAT(s.DeleteVault(missing, nullptr), StatusIs(StatusCode::kNotFound)); }),
      Changes{StoreChange::Vault(missing)});
}

TEST_P(StoreConformanceTest, ReadsAndAuditArePublishedAsNothing) {
  Store& s = store();
  const Vault v = AddVault("quiet");
  ASSERT_THAT(Put(v.id, "a/b", "value"), IsOk());
  const auto seen = Published(s, [&] {
    ASSERT_THAT(s.GetSecretVersion(v.id, "a/b", VersionSelector::LatestEnabled()), IsOk());
    ASSERT_THAT(s.GetVault(v.id), IsOk());
    ASSERT_THAT(s.ListPolicies(v.id), IsOk());
    ASSERT_THAT(s.AppendAudit(MakeEvent("secret.read", v.id)), IsOk());
    ASSERT_THAT(s.InsertUser({NewUuid(), "someone", false, kT0}, nullptr), IsOk());
  });
  EXPECT_TRUE(seen.empty()) << seen.size() << " changes published";
}

// For requests waiting on a secret: a new version, a disabled version and a deleted secret are
// published as kSecret (vault id and path), failed ones too.
TEST_P(StoreConformanceTest, EveryMutationOfASecretIsPublishedBeforeItReturns) {
  Store& s = store();
  const Vault v = AddVault("watched");
  const Changes secret{StoreChange::Secret(v.id, "a/b")};
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(Put(v.id, "a/b", "one"), IsOk()); }), secret);
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(Put(v.id, "a/b", "two"), IsOk()); }), secret);
  EXPECT_EQ(
      Published(
          s,
          [&] { ASSERT_THAT(s.DisableSecretVersion(v.id, "a/b", 1, kT0 + 1, nullptr), IsOk()); }),
      secret);
  // What a plain read returns moves without a new version: aliases, promote, rollback, destroy.
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(Put(v.id, "a/b", "three"), IsOk()); }), secret);
  EXPECT_EQ(
      Published(s,
                [&] { ASSERT_THAT(s.SetSecretAlias(v.id, "a/b", "pending", 3, nullptr), IsOk()); }),
      secret);
  EXPECT_EQ(
      Published(s,
                [&] { ASSERT_THAT(s.SetSecretAlias(v.id, "a/b", "current", 2, nullptr), IsOk()); }),
      secret);
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.PromoteSecret(v.id, "a/b", nullptr), IsOk()); }),
            secret);
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.RollbackSecret(v.id, "a/b", nullptr), IsOk()); }),
            secret);
  EXPECT_EQ(
      Published(s,
                [&] { ASSERT_THAT(s.SetSecretAlias(v.id, "a/b", "stable", 2, nullptr), IsOk()); }),
      secret);
  EXPECT_EQ(
      Published(s,
                [&] { ASSERT_THAT(s.DeleteSecretAlias(v.id, "a/b", "stable", nullptr), IsOk()); }),
      secret);
  EXPECT_EQ(
      Published(
          s,
          [&] { ASSERT_THAT(s.DestroySecretVersion(v.id, "a/b", 1, kT0 + 2, nullptr), IsOk()); }),
      secret);
  EXPECT_EQ(Published(s, [&] { ASSERT_THAT(s.DeleteSecret(v.id, "a/b", nullptr), IsOk()); }),
            secret);
  EXPECT_EQ(Published(s,
                      [&] {
                        EXPECT_THAT(s.DeleteSecret(v.id, "a/b", nullptr),
                                    StatusIs(StatusCode::kNotFound));
                      }),
            secret);
}

}  // namespace
}  // namespace coffer::store_testing
