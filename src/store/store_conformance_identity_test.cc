// Store conformance tests for who may do what: credentials and their revocation, agents and the
// compare-and-swap rotation of their credentials, per-vault policies.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

std::vector<std::string> PublicIds(const std::vector<Credential>& creds, bool only_active) {
  std::vector<std::string> ids;
  for (const Credential& c : creds) {
    if (!only_active || !c.revoked_at.has_value()) {
      ids.push_back(c.public_id);
    }
  }
  return ids;
}

// --- credentials -------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ListCredentialsIncludesRevokedOnesInCreationOrder) {
  const std::string agent_id = NewUuid();
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent_id, "c3", "key", kT0 + 3), nullptr),
              IsOk());
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent_id, "c1", "rot", kT0 + 1), nullptr),
              IsOk());
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent_id, "c2", "key", kT0 + 2), nullptr),
              IsOk());
  // Same id, other principal kind: not listed.
  Credential user_key = AgentCredential(agent_id, "u1");
  user_key.principal_kind = PrincipalKind::kUser;
  ASSERT_THAT(store().InsertCredential(user_key, nullptr), IsOk());
  ASSERT_THAT(store().InsertCredential(AgentCredential(NewUuid(), "other"), nullptr), IsOk());
  ASSERT_THAT(store().RevokeCredential("c1", kT0 + 10, nullptr), IsOk());

  auto creds = store().ListCredentials(PrincipalKind::kAgent, agent_id);
  ASSERT_THAT(creds, IsOk());
  EXPECT_EQ(PublicIds(*creds, false), (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_EQ((*creds)[0].revoked_at, kT0 + 10);
  EXPECT_EQ((*creds)[0].kind, "rot");
  EXPECT_EQ((*creds)[0].secret_hmac, std::vector<uint8_t>(32, 0x5c));
  EXPECT_FALSE((*creds)[1].revoked_at.has_value());

  auto users = store().ListCredentials(PrincipalKind::kUser, agent_id);
  ASSERT_THAT(users, IsOk());
  EXPECT_EQ(PublicIds(*users, false), std::vector<std::string>{"u1"});
  auto none = store().ListCredentials(PrincipalKind::kAgent, "nobody");
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformanceTest, RevokeCredentialKeepsTheFirstTime) {
  ASSERT_THAT(store().InsertCredential(AgentCredential(NewUuid(), "c"), nullptr), IsOk());
  ASSERT_THAT(store().RevokeCredential("c", kT0 + 5, nullptr), IsOk());
  ASSERT_THAT(store().RevokeCredential("c", kT0 + 9, nullptr), IsOk()) << "revoking again is OK";
  auto got = store().GetCredential("c");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->revoked_at, kT0 + 5);
  EXPECT_THAT(store().RevokeCredential("nope", kT0, nullptr), StatusIs(StatusCode::kNotFound));
}

// A user's API key, with a made-up HMAC.
Credential UserKey(std::string_view user_id, std::string public_id, std::string kind = "key") {
  Credential c = AgentCredential(user_id, std::move(public_id), std::move(kind));
  c.principal_kind = PrincipalKind::kUser;
  return c;
}

TEST_P(StoreConformanceTest, TheLastAdminApiKeyIsNeverRevoked) {
  const User admin{NewUuid(), "admin", true, kT0};
  const User alice{NewUuid(), "alice", false, kT0 + 1};
  ASSERT_THAT(store().InsertUser(admin, nullptr), IsOk());
  ASSERT_THAT(store().InsertUser(alice, nullptr), IsOk());
  for (const Credential& c :
       {UserKey(admin.id, "admin-1"), UserKey(admin.id, "admin-2"),
        UserKey(admin.id, "admin-rot", "rot"), UserKey(alice.id, "alice-1")}) {
    ASSERT_THAT(store().InsertCredential(c, nullptr), IsOk());
  }
  // Anyone else's last key goes (alice can be given a new one by the admin).
  EXPECT_THAT(store().RevokeCredential("alice-1", kT0, nullptr), IsOk());
  // One of two admin keys goes; the other is then the last.
  EXPECT_THAT(store().RevokeCredential("admin-1", kT0 + 1, nullptr), IsOk());
  AuditEvent event = MakeEvent("apikey.revoke");
  Status last = store().RevokeCredential("admin-2", kT0 + 2, &event);
  EXPECT_THAT(last, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(last.message(), kLastAdminKey);
  EXPECT_TRUE(AllAudit().empty()) << "a refused revocation appends nothing";
  auto kept = store().GetCredential("admin-2");
  ASSERT_THAT(kept, IsOk());
  EXPECT_FALSE(kept->revoked_at.has_value());
  // A credential that is not an API key does not count, and may go.
  EXPECT_THAT(store().RevokeCredential("admin-rot", kT0, nullptr), IsOk());
  // Revoking an already revoked key changes nothing and is still fine.
  EXPECT_THAT(store().RevokeCredential("admin-1", kT0 + 9, nullptr), IsOk());
  // With a second admin holding a key, the first admin's last key may go.
  const User second{NewUuid(), "admin-two", true, kT0 + 2};
  ASSERT_THAT(store().InsertUser(second, nullptr), IsOk());
  ASSERT_THAT(store().InsertCredential(UserKey(second.id, "second-1"), nullptr), IsOk());
  EXPECT_THAT(store().RevokeCredential("admin-2", kT0 + 3, nullptr), IsOk());
  EXPECT_THAT(store().RevokeCredential("second-1", kT0 + 4, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
}

TEST_P(StoreConformanceTest, OfConcurrentRevocationsOfTheLastAdminKeysOneIsRefused) {
  constexpr int kKeys = 4;
  constexpr int kRounds = 8;
  const User admin{NewUuid(), "admin", true, kT0};
  ASSERT_THAT(store().InsertUser(admin, nullptr), IsOk());
  std::vector<std::string> survivors;  // the previous round's unrevoked key
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> ids;
    for (int k = 0; k < kKeys; ++k) {
      ids.push_back("r" + std::to_string(round) + "-" + std::to_string(k));
      ASSERT_THAT(store().InsertCredential(UserKey(admin.id, ids.back()), nullptr), IsOk());
    }
    for (const std::string& id : survivors) {
      ASSERT_THAT(store().RevokeCredential(id, kT0, nullptr), IsOk());
    }
    std::barrier start(kKeys);
    std::atomic<int> revoked = 0;
    std::atomic<int> refused = 0;
    std::vector<std::thread> threads;
    for (int k = 0; k < kKeys; ++k) {
      threads.emplace_back([&, k] {
        start.arrive_and_wait();
        AuditEvent event = MakeEvent("apikey.revoke");
        Status s = store().RevokeCredential(ids[static_cast<size_t>(k)], kT0 + 1, &event);
        if (s.ok()) {
          ++revoked;
        } else if (s.code() == StatusCode::kFailedPrecondition) {
          ++refused;
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(revoked.load(), kKeys - 1) << "round " << round;
    EXPECT_EQ(refused.load(), 1) << "round " << round;
    auto after = store().ListCredentials(PrincipalKind::kUser, admin.id);
    ASSERT_THAT(after, IsOk());
    survivors.clear();
    for (const Credential& c : *after) {
      if (!c.revoked_at.has_value()) survivors.push_back(c.public_id);
    }
    EXPECT_EQ(survivors.size(), 1u) << "round " << round;
  }
  EXPECT_TRUE(ChainIsIntact(AllAudit()));
  EXPECT_EQ(AllAudit().size(), static_cast<size_t>(kRounds * (kKeys - 1)));
}

// --- agents ------------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, AgentRoundTripWithItsFirstCredentials) {
  const Agent agent{NewUuid(), "ci-runner",  "builds things", "owner-1",
                    kT0 + 4,   std::nullopt, std::nullopt,    std::nullopt};
  ASSERT_THAT(store().InsertAgent(
                  agent, {AgentCredential(agent.id, "k1"), AgentCredential(agent.id, "r1", "rot")},
                  nullptr),
              IsOk());

  auto got = store().GetAgent(agent.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->id, agent.id);
  EXPECT_EQ(got->name, "ci-runner");
  EXPECT_EQ(got->description, "builds things");
  EXPECT_EQ(got->owner_id, "owner-1");
  EXPECT_EQ(got->created_at, kT0 + 4);
  EXPECT_FALSE(got->is_revoked());

  auto creds = store().ListCredentials(PrincipalKind::kAgent, agent.id);
  ASSERT_THAT(creds, IsOk());
  EXPECT_EQ(PublicIds(*creds, true), (std::vector<std::string>{"k1", "r1"}));
  EXPECT_THAT(store().GetAgent(NewUuid()), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, AgentNameIsUniquePerOwner) {
  const Agent first = AddAgent("bot", "owner-1");
  const Agent dup{NewUuid(), "bot", "", "owner-1", kT0, std::nullopt, std::nullopt, std::nullopt};
  Status s = store().InsertAgent(dup, {AgentCredential(dup.id, "dup-key")}, nullptr);
  EXPECT_THAT(s, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(s.message(), "an agent named 'bot' already exists");
  EXPECT_THAT(store().GetCredential("dup-key"), StatusIs(StatusCode::kNotFound))
      << "the credentials went nowhere either";
  // Another owner may use the name; the same id may not be used twice.
  const Agent other{NewUuid(), "bot", "", "owner-2", kT0, std::nullopt, std::nullopt, std::nullopt};
  EXPECT_THAT(store().InsertAgent(other, {}, nullptr), IsOk());
  const Agent same_id{first.id, "bot-2",      "",           "owner-1",
                      kT0,      std::nullopt, std::nullopt, std::nullopt};
  EXPECT_THAT(store().InsertAgent(same_id, {}, nullptr), StatusIs(StatusCode::kAlreadyExists));
}

TEST_P(StoreConformanceTest, InsertAgentIsAtomicWithItsCredentials) {
  ASSERT_THAT(store().InsertCredential(AgentCredential(NewUuid(), "taken"), nullptr), IsOk());
  const Agent agent{NewUuid(), "bot", "", "owner-1", kT0, std::nullopt, std::nullopt, std::nullopt};
  Status s = store().InsertAgent(
      agent, {AgentCredential(agent.id, "fresh"), AgentCredential(agent.id, "taken")}, nullptr);
  EXPECT_THAT(s, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().GetAgent(agent.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetCredential("fresh"), StatusIs(StatusCode::kNotFound));
  // Nothing of the failed insert is left: the same agent goes in cleanly.
  EXPECT_THAT(store().InsertAgent(agent, {AgentCredential(agent.id, "fresh")}, nullptr), IsOk());
}

TEST_P(StoreConformanceTest, AgentCredentialsMustNameTheAgent) {
  const Agent agent{NewUuid(), "bot", "", "owner-1", kT0, std::nullopt, std::nullopt, std::nullopt};
  Credential users = AgentCredential(agent.id, "k");
  users.principal_kind = PrincipalKind::kUser;
  EXPECT_THAT(store().InsertAgent(agent, {users}, nullptr), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().InsertAgent(agent, {AgentCredential(NewUuid(), "k")}, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().GetAgent(agent.id), StatusIs(StatusCode::kNotFound));

  ASSERT_THAT(store().InsertAgent(agent, {AgentCredential(agent.id, "k")}, nullptr), IsOk());
  EXPECT_THAT(store().ReplaceAgentCredentials(agent.id, {"k"}, {AgentCredential(NewUuid(), "k2")},
                                              kT0, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  auto k = store().GetCredential("k");
  ASSERT_THAT(k, IsOk());
  EXPECT_FALSE(k->revoked_at.has_value()) << "a refused swap revokes nothing";
}

TEST_P(StoreConformanceTest, ListAgentsByCreationTimeAndOwner) {
  const Agent late = AddAgent("late", "owner-1", kT0 + 30);
  const Agent early = AddAgent("early", "owner-2", kT0 + 10);
  const Agent middle = AddAgent("middle", "owner-1", kT0 + 20);

  auto all = store().ListAgents(std::nullopt);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, early.id);
  EXPECT_EQ((*all)[1].id, middle.id);
  EXPECT_EQ((*all)[2].id, late.id);

  auto mine = store().ListAgents("owner-1");
  ASSERT_THAT(mine, IsOk());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].id, middle.id);
  EXPECT_EQ((*mine)[1].id, late.id);
  auto none = store().ListAgents("nobody");
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformanceTest, RevokeAgentRevokesItsCredentialsAndIsIdempotent) {
  const Agent agent = AddAgent("bot");
  const Agent bystander = AddAgent("other");
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent.id, "old"), nullptr), IsOk());
  ASSERT_THAT(store().RevokeCredential("old", kT0 + 1, nullptr), IsOk());
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent.id, "rot", "rot"), nullptr), IsOk());

  ASSERT_THAT(store().RevokeAgent(agent.id, kT0 + 50, nullptr), IsOk());
  auto got = store().GetAgent(agent.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->revoked_at, kT0 + 50);
  auto creds = store().ListCredentials(PrincipalKind::kAgent, agent.id);
  ASSERT_THAT(creds, IsOk());
  ASSERT_EQ(creds->size(), 3u);
  for (const Credential& c : *creds) {
    EXPECT_EQ(c.revoked_at, c.public_id == "old" ? kT0 + 1 : kT0 + 50) << c.public_id;
  }

  // Again: OK, and every time stays.
  ASSERT_THAT(store().RevokeAgent(agent.id, kT0 + 99, nullptr), IsOk());
  got = store().GetAgent(agent.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->revoked_at, kT0 + 50);
  auto key = store().GetCredential("bot-key");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->revoked_at, kT0 + 50);

  auto untouched = store().GetCredential("other-key");
  ASSERT_THAT(untouched, IsOk());
  EXPECT_FALSE(untouched->revoked_at.has_value());
  auto other = store().GetAgent(bystander.id);
  ASSERT_THAT(other, IsOk());
  EXPECT_FALSE(other->is_revoked());
  EXPECT_THAT(store().RevokeAgent(NewUuid(), kT0, nullptr), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, UpdateAgentRenamesDeactivatesAndReactivates) {
  const Agent agent = AddAgent("bot");
  const Agent sibling = AddAgent("sibling");
  ASSERT_THAT(store().UpdateAgent(agent.id, {.name = "renamed", .description = "new words"},
                                  kT0 + 1, nullptr),
              IsOk());
  auto got = store().GetAgent(agent.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->name, "renamed");
  EXPECT_EQ(got->description, "new words");
  EXPECT_TRUE(got->is_active());

  // Deactivating keeps the first time; the credentials are untouched.
  ASSERT_THAT(store().UpdateAgent(agent.id, {.is_active = false}, kT0 + 10, nullptr), IsOk());
  ASSERT_THAT(store().UpdateAgent(agent.id, {.is_active = false}, kT0 + 20, nullptr), IsOk());
  got = store().GetAgent(agent.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->deactivated_at, kT0 + 10);
  EXPECT_FALSE(got->is_active());
  EXPECT_FALSE(got->is_revoked());
  EXPECT_EQ(got->name, "renamed") << "fields not given stay";
  auto key = store().GetCredential("bot-key");
  ASSERT_THAT(key, IsOk());
  EXPECT_FALSE(key->revoked_at.has_value());
  auto listed = store().ListAgents(std::nullopt);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].deactivated_at, kT0 + 10);

  ASSERT_THAT(store().UpdateAgent(agent.id, {.is_active = true}, kT0 + 30, nullptr), IsOk());
  got = store().GetAgent(agent.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->deactivated_at.has_value());

  // The owner's other agent's name is taken; an unknown or revoked agent is refused.
  Status taken = store().UpdateAgent(agent.id, {.name = "sibling"}, kT0, nullptr);
  EXPECT_THAT(taken, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(taken.message(), "an agent named 'sibling' already exists");
  EXPECT_THAT(store().UpdateAgent(agent.id, {.name = "renamed"}, kT0, nullptr), IsOk())
      << "keeping its own name is no clash";
  EXPECT_THAT(store().UpdateAgent(NewUuid(), {.is_active = false}, kT0, nullptr),
              StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(store().RevokeAgent(sibling.id, kT0 + 40, nullptr), IsOk());
  EXPECT_THAT(store().UpdateAgent(sibling.id, {.is_active = true}, kT0, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
}

TEST_P(StoreConformanceTest, ReplaceAgentCredentialsRevokesEveryActiveOneAndInsertsTheFresh) {
  const Agent agent = AddAgent("bot");
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent.id, "bot-rot", "rot"), nullptr),
              IsOk());
  // An active credential the caller did not mention is revoked too.
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent.id, "stray"), nullptr), IsOk());

  ASSERT_THAT(store().ReplaceAgentCredentials(agent.id, {"bot-key", "bot-rot"},
                                              {AgentCredential(agent.id, "k2", "key", kT0 + 7),
                                               AgentCredential(agent.id, "r2", "rot")},
                                              kT0 + 7, nullptr),
              IsOk());

  auto creds = store().ListCredentials(PrincipalKind::kAgent, agent.id);
  ASSERT_THAT(creds, IsOk());
  EXPECT_EQ(PublicIds(*creds, true), (std::vector<std::string>{"r2", "k2"}))
      << "r2 was created at kT0, k2 at kT0 + 7";
  for (const std::string id : {"bot-key", "bot-rot", "stray"}) {
    auto old = store().GetCredential(id);
    ASSERT_THAT(old, IsOk());
    EXPECT_EQ(old->revoked_at, kT0 + 7) << id;
  }

  // The old expectation no longer holds.
  Status stale = store().ReplaceAgentCredentials(agent.id, {"bot-key"},
                                                 {AgentCredential(agent.id, "k3")}, kT0, nullptr);
  EXPECT_THAT(stale, StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().GetCredential("k3"), StatusIs(StatusCode::kNotFound));
  auto still = store().GetCredential("k2");
  ASSERT_THAT(still, IsOk());
  EXPECT_FALSE(still->revoked_at.has_value()) << "an aborted swap revokes nothing";
}

TEST_P(StoreConformanceTest, ReplaceAgentCredentialsChecksEveryExpectedId) {
  const Agent agent = AddAgent("bot");
  const Agent other = AddAgent("other");
  const auto replace = [&](std::vector<std::string> expected) {
    return store().ReplaceAgentCredentials(agent.id, expected, {AgentCredential(agent.id, "new")},
                                           kT0, nullptr);
  };
  // Another agent's credential, an unknown id, or one active and one not: all aborted.
  EXPECT_THAT(replace({"other-key"}), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(replace({"bot-key", "no-such-id"}), StatusIs(StatusCode::kAborted));
  ASSERT_THAT(store().InsertCredential(AgentCredential(agent.id, "gone"), nullptr), IsOk());
  ASSERT_THAT(store().RevokeCredential("gone", kT0, nullptr), IsOk());
  EXPECT_THAT(replace({"bot-key", "gone"}), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().GetCredential("new"), StatusIs(StatusCode::kNotFound));

  // An empty expectation is an unconditional rotation.
  EXPECT_THAT(replace({}), IsOk());
  auto creds = store().ListCredentials(PrincipalKind::kAgent, agent.id);
  ASSERT_THAT(creds, IsOk());
  EXPECT_EQ(PublicIds(*creds, true), std::vector<std::string>{"new"});
  auto untouched = store().GetCredential("other-key");
  ASSERT_THAT(untouched, IsOk());
  EXPECT_FALSE(untouched->revoked_at.has_value());
}

TEST_P(StoreConformanceTest, ReplaceAgentCredentialsOnARevokedOrUnknownAgent) {
  const Agent agent = AddAgent("bot");
  ASSERT_THAT(store().RevokeAgent(agent.id, kT0, nullptr), IsOk());
  EXPECT_THAT(store().ReplaceAgentCredentials(agent.id, {}, {}, kT0, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().ReplaceAgentCredentials(agent.id, {}, {AgentCredential(agent.id, "new")}, kT0,
                                              nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().GetCredential("new"), StatusIs(StatusCode::kNotFound));
  const std::string unknown = NewUuid();
  EXPECT_THAT(store().ReplaceAgentCredentials(unknown, {}, {}, kT0, nullptr),
              StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ConcurrentSwapsWithOneExpectationHaveExactlyOneWinner) {
  constexpr int kRounds = 20;
  const Agent agent = AddAgent("bot");
  std::string current = "bot-key";
  for (int round = 0; round < kRounds; ++round) {
    std::barrier start(2);
    Status results[2];
    std::thread racers[2];
    for (int t = 0; t < 2; ++t) {
      racers[t] = std::thread([&, t] {
        const Credential fresh =
            AgentCredential(agent.id, "r" + std::to_string(round) + "-t" + std::to_string(t));
        const AuditEvent event = MakeEvent("agent.rotate_key");
        start.arrive_and_wait();
        results[t] =
            store().ReplaceAgentCredentials(agent.id, {current}, {fresh}, kT0 + round, &event);
      });
    }
    for (std::thread& t : racers) {
      t.join();
    }
    const int winners = static_cast<int>(results[0].ok()) + static_cast<int>(results[1].ok());
    ASSERT_EQ(winners, 1) << "round " << round << ": " << results[0] << " / " << results[1];
    const int loser = results[0].ok() ? 1 : 0;
    EXPECT_THAT(results[loser], StatusIs(StatusCode::kAborted));

    auto creds = store().ListCredentials(PrincipalKind::kAgent, agent.id);
    ASSERT_THAT(creds, IsOk());
    const std::vector<std::string> active = PublicIds(*creds, true);
    ASSERT_EQ(active.size(), 1u) << "round " << round;
    EXPECT_EQ(active[0], "r" + std::to_string(round) + "-t" + std::to_string(1 - loser));
    current = active[0];
  }
  // One audit event per successful swap, none for the aborted ones.
  const std::vector<AuditEvent> events = AllAudit();
  EXPECT_EQ(events.size(), static_cast<size_t>(kRounds));
  EXPECT_TRUE(ChainIsIntact(events));
}

// --- policies ----------------------------------------------------------------------------------

Policy MakePolicy(std::string_view vault_id, std::string_view principal_id, UnixMicros created_at,
                  std::string glob = "**") {
  Policy p;
  p.id = NewUuid();
  p.vault_id = vault_id;
  p.principal_kind = PrincipalKind::kAgent;
  p.principal_id = principal_id;
  p.path_glob = std::move(glob);
  p.permissions = kPermRead | kPermList;
  p.created_at = created_at;
  p.created_by = "user-1";
  return p;
}

TEST_P(StoreConformanceTest, PolicyRoundTripListAndDelete) {
  const Vault v = AddVault("v");
  const Vault w = AddVault("w");
  Policy full = MakePolicy(v.id, "agent-1", kT0 + 2, "db/*/password");
  full.principal_kind = PrincipalKind::kUser;
  full.permissions = kPermRead | kPermWrite | kPermRotate | kPermDelete | kPermList;
  full.expires_at = kT0 + 3600;
  const Policy first = MakePolicy(v.id, "agent-1", kT0 + 1);
  const Policy elsewhere = MakePolicy(w.id, "agent-1", kT0);
  const Policy someone_else = MakePolicy(v.id, "agent-2", kT0 + 3);
  for (const Policy& p : {full, first, elsewhere, someone_else}) {
    ASSERT_THAT(store().InsertPolicy(p, nullptr), IsOk());
  }

  auto got = store().GetPolicy(v.id, full.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->id, full.id);
  EXPECT_EQ(got->vault_id, v.id);
  EXPECT_EQ(got->principal_kind, PrincipalKind::kUser);
  EXPECT_EQ(got->principal_id, "agent-1");
  EXPECT_EQ(got->path_glob, "db/*/password");
  EXPECT_EQ(got->permissions, 0x1f);
  EXPECT_EQ(got->expires_at, kT0 + 3600);
  EXPECT_EQ(got->created_at, kT0 + 2);
  EXPECT_EQ(got->created_by, "user-1");
  auto plain = store().GetPolicy(v.id, first.id);
  ASSERT_THAT(plain, IsOk());
  EXPECT_FALSE(plain->expires_at.has_value());
  EXPECT_THAT(store().GetPolicy(w.id, full.id), StatusIs(StatusCode::kNotFound))
      << "a policy is found only in its own vault";
  EXPECT_THAT(store().GetPolicy(v.id, NewUuid()), StatusIs(StatusCode::kNotFound));

  auto in_v = store().ListPolicies(v.id);
  ASSERT_THAT(in_v, IsOk());
  ASSERT_EQ(in_v->size(), 3u);
  EXPECT_EQ((*in_v)[0].id, first.id);
  EXPECT_EQ((*in_v)[1].id, full.id);
  EXPECT_EQ((*in_v)[2].id, someone_else.id);

  auto agent_1 = store().ListPoliciesForPrincipal(PrincipalKind::kAgent, "agent-1");
  ASSERT_THAT(agent_1, IsOk());
  ASSERT_EQ(agent_1->size(), 2u) << "the kUser policy names another principal";
  EXPECT_EQ((*agent_1)[0].id, elsewhere.id);
  EXPECT_EQ((*agent_1)[1].id, first.id);

  EXPECT_THAT(store().DeletePolicy(w.id, first.id, nullptr), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(store().DeletePolicy(v.id, first.id, nullptr), IsOk());
  EXPECT_THAT(store().GetPolicy(v.id, first.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeletePolicy(v.id, first.id, nullptr), StatusIs(StatusCode::kNotFound));
  in_v = store().ListPolicies(v.id);
  ASSERT_THAT(in_v, IsOk());
  EXPECT_EQ(in_v->size(), 2u);
}

TEST_P(StoreConformanceTest, PolicyEffectPriorityAndConditionsRoundTrip) {
  const Vault v = AddVault("v");
  Policy plain = MakePolicy(v.id, "agent-1", kT0);
  Policy full = MakePolicy(v.id, "agent-1", kT0 + 1);
  full.effect = PolicyEffect::kDeny;
  full.priority = 42;
  full.conditions.time_window = TimeWindow{22, 6, 0b0111110, "UTC"};
  for (const char* text : {"10.0.0.0/8", "2001:db8::/32", "192.0.2.1"}) {
    full.conditions.ip_allowlist.push_back(ParseIpNetwork(text).value());
  }
  ASSERT_THAT(store().InsertPolicy(plain, nullptr), IsOk());
  ASSERT_THAT(store().InsertPolicy(full, nullptr), IsOk());

  auto got = store().GetPolicy(v.id, full.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->effect, PolicyEffect::kDeny);
  EXPECT_EQ(got->priority, 42);
  EXPECT_EQ(got->conditions, full.conditions);
  EXPECT_FALSE(got->updated_at.has_value());
  auto listed = store().ListPolicies(v.id);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].effect, PolicyEffect::kAllow) << "the default is an allow";
  EXPECT_EQ((*listed)[0].priority, 0);
  EXPECT_TRUE((*listed)[0].conditions.empty());
  EXPECT_EQ((*listed)[1].conditions, full.conditions);
}

TEST_P(StoreConformanceTest, UpdatePolicyReplacesOnlyWhatAnUpdateMayChange) {
  const Vault v = AddVault("v");
  const Vault w = AddVault("w");
  const Policy original = MakePolicy(v.id, "agent-1", kT0, "db/*");
  ASSERT_THAT(store().InsertPolicy(original, nullptr), IsOk());

  Policy changed = original;
  changed.permissions = kPermWrite;
  changed.expires_at = kT0 + 3600;
  changed.effect = PolicyEffect::kDeny;
  changed.priority = 7;
  changed.conditions.time_window = TimeWindow{9, 17, kAllDays, "UTC"};
  changed.conditions.ip_allowlist.push_back(ParseIpNetwork("::1").value());
  changed.updated_at = kT0 + 10;
  // An update names neither the principal, nor the pattern, nor the creation.
  changed.principal_id = "agent-2";
  changed.path_glob = "**";
  changed.created_by = "someone-else";
  ASSERT_THAT(store().UpdatePolicy(changed, nullptr), IsOk());

  auto got = store().GetPolicy(v.id, original.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->permissions, kPermWrite);
  EXPECT_EQ(got->expires_at, kT0 + 3600);
  EXPECT_EQ(got->effect, PolicyEffect::kDeny);
  EXPECT_EQ(got->priority, 7);
  EXPECT_EQ(got->conditions, changed.conditions);
  EXPECT_EQ(got->updated_at, kT0 + 10);
  EXPECT_EQ(got->principal_id, "agent-1");
  EXPECT_EQ(got->path_glob, "db/*");
  EXPECT_EQ(got->created_by, "user-1");
  EXPECT_EQ(got->created_at, kT0);

  // Clearing: no expiry, no conditions.
  changed.expires_at.reset();
  changed.conditions = {};
  ASSERT_THAT(store().UpdatePolicy(changed, nullptr), IsOk());
  got = store().GetPolicy(v.id, original.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->expires_at.has_value());
  EXPECT_TRUE(got->conditions.empty());

  Policy elsewhere = changed;
  elsewhere.vault_id = w.id;
  EXPECT_THAT(store().UpdatePolicy(elsewhere, nullptr), StatusIs(StatusCode::kNotFound));
  Policy unknown = changed;
  unknown.id = NewUuid();
  EXPECT_THAT(store().UpdatePolicy(unknown, nullptr), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, InsertPolicyNeedsItsVaultAndAFreshId) {
  const Vault v = AddVault("v");
  const Policy p = MakePolicy(v.id, "agent-1", kT0);
  ASSERT_THAT(store().InsertPolicy(p, nullptr), IsOk());
  EXPECT_THAT(store().InsertPolicy(p, nullptr), StatusIs(StatusCode::kAlreadyExists));
  Status missing = store().InsertPolicy(MakePolicy(NewUuid(), "agent-1", kT0), nullptr);
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(missing.message(), "vault not found");
}

TEST_P(StoreConformanceTest, DeleteVaultDeletesItsPolicies) {
  const Vault doomed = AddVault("doomed");
  const Vault kept = AddVault("kept");
  const Policy gone = MakePolicy(doomed.id, "agent-1", kT0);
  const Policy stays = MakePolicy(kept.id, "agent-1", kT0 + 1);
  ASSERT_THAT(store().InsertPolicy(gone, nullptr), IsOk());
  ASSERT_THAT(store().InsertPolicy(stays, nullptr), IsOk());

  ASSERT_THAT(store().DeleteVault(doomed.id, nullptr), IsOk());
  EXPECT_THAT(store().GetPolicy(doomed.id, gone.id), StatusIs(StatusCode::kNotFound));
  auto left = store().ListPoliciesForPrincipal(PrincipalKind::kAgent, "agent-1");
  ASSERT_THAT(left, IsOk());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, stays.id);
  auto listed = store().ListPolicies(doomed.id);
  ASSERT_THAT(listed, IsOk());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace coffer::store_testing
