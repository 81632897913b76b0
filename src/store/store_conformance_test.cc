// The Store conformance suite (store_conformance_test.h), which each backend's *_test.cc
// instantiates: the fixture's helpers, and the tests of keys, users, credentials and vaults.
#include "store/store_conformance_test.h"

#include <stdlib.h>

#include <atomic>
#include <barrier>
#include <cctype>
#include <filesystem>
#include <thread>
#include <utility>

#include "common/ids.h"
#include "common/status_matchers.h"

namespace coffer::store_testing {

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformanceTest);

std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

std::vector<uint8_t> FakeCiphertext(std::string_view secret_id, int64_t version,
                                    std::string_view value) {
  const std::string text =
      std::string(secret_id) + "|" + std::to_string(version) + "|" + std::string(value);
  return std::vector<uint8_t>(text.begin(), text.end());
}

SealFunction FakeSeal(std::string value) {
  return [value = std::move(value)](const SecretVersion& h) -> StatusOr<std::vector<uint8_t>> {
    return FakeCiphertext(h.secret_id, h.version, value);
  };
}

AuditEvent MakeEvent(std::string_view action, std::string_view vault_id, std::string_view actor_id,
                     UnixMicros at) {
  AuditEvent e;
  e.at = at;
  e.request_id = "req-" + std::string(action);
  e.actor_kind = actor_id.empty() ? "anonymous" : "user";
  e.actor_id = actor_id;
  e.action = action;
  e.vault_id = vault_id;
  e.client_ip = "192.0.2.7";
  e.outcome = "success";
  e.status = "OK";
  return e;
}

::testing::AssertionResult ChainIsIntact(const std::vector<AuditEvent>& events) {
  Sha256Digest prev{};
  for (size_t i = 0; i < events.size(); ++i) {
    const AuditEvent& e = events[i];
    if (e.seq != static_cast<int64_t>(i) + 1) {
      return ::testing::AssertionFailure()
             << "event " << i << " has seq " << e.seq << ", want " << i + 1;
    }
    if (e.prev_hash != prev) {
      return ::testing::AssertionFailure()
             << "seq " << e.seq << " is not chained to its predecessor";
    }
    if (e.hash != AuditChainHash(e.prev_hash, e)) {
      return ::testing::AssertionFailure()
             << "seq " << e.seq << " has a hash that does not recompute";
    }
    prev = e.hash;
  }
  return ::testing::AssertionSuccess();
}

Credential AgentCredential(std::string_view agent_id, std::string public_id, std::string kind,
                           UnixMicros created_at) {
  Credential c;
  c.public_id = std::move(public_id);
  c.kind = std::move(kind);
  c.principal_kind = PrincipalKind::kAgent;
  c.principal_id = agent_id;
  c.name = c.kind == "rot" ? "rotation secret" : "api key";
  c.secret_hmac = std::vector<uint8_t>(32, 0x5c);
  c.created_at = created_at;
  return c;
}

void StoreConformanceTest::SetUp() {
  std::string pattern = (std::filesystem::path(::testing::TempDir()) / "coffer-store-XXXXXX");
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  scratch_dir_ = pattern;
  store_ = GetParam().factory(scratch_dir_);
  if (IsSkipped()) {
    return;  // the backend is not available here (the factory said why)
  }
  ASSERT_NE(store_, nullptr) << "the store factory failed";
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  if (!scratch_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir_, ignored);
  }
}

void StoreConformanceTest::Reopen() {
  store_.reset();
  store_ = GetParam().factory(scratch_dir_);
  ASSERT_NE(store_, nullptr) << "the store factory failed on reopen";
}

Vault StoreConformanceTest::AddVault(std::string_view name, std::string_view owner_id,
                                     UnixMicros created_at) {
  Vault v{NewUuid(), std::string(name), "about " + std::string(name), std::string(owner_id),
          created_at};
  EXPECT_THAT(store_->InsertVault(v, nullptr), IsOk());
  return v;
}

Agent StoreConformanceTest::AddAgent(std::string_view name, std::string_view owner_id,
                                     UnixMicros created_at) {
  Agent a{NewUuid(),
          std::string(name),
          "agent " + std::string(name),
          std::string(owner_id),
          created_at,
          std::nullopt,
          std::nullopt,
          std::nullopt};
  EXPECT_THAT(
      store_->InsertAgent(a, {AgentCredential(a.id, std::string(name) + "-key", "key", created_at)},
                          nullptr),
      IsOk());
  return a;
}

std::vector<AuditEvent> StoreConformanceTest::AllAudit() {
  std::vector<AuditEvent> events;
  const Status scanned = store_->ScanAudit([&](const AuditEvent& e) {
    events.push_back(e);
    return true;
  });
  EXPECT_THAT(scanned, IsOk());
  return events;
}

NewSecretVersion StoreConformanceTest::NewVersion(std::string_view vault_id, std::string_view path,
                                                  UnixMicros created_at) {
  NewSecretVersion n;
  n.vault_id = vault_id;
  n.path = path;
  n.created_at = created_at;
  n.created_by = "user-1";
  return n;
}

StatusOr<SecretVersion> StoreConformanceTest::Put(std::string_view vault_id, std::string_view path,
                                                  std::string value) {
  return store_->PutSecretVersion(NewVersion(vault_id, path), FakeSeal(std::move(value)), nullptr);
}

std::vector<std::string> StoreConformanceTest::ListPaths(std::string_view vault_id,
                                                         std::string_view prefix,
                                                         std::string_view after, size_t limit,
                                                         std::string* next_after) {
  std::vector<std::string> paths;
  auto page = store_->ListSecrets(vault_id, prefix, after, limit);
  EXPECT_THAT(page, IsOk());
  if (!page.has_value()) {
    return paths;
  }
  for (const SecretSummary& s : page->secrets) {
    paths.push_back(s.path);
  }
  if (next_after != nullptr) {
    *next_after = page->next_after;
  }
  return paths;
}

namespace {

// --- keyring -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, KeysLoadOrderedByIdWithEveryField) {
  ASSERT_THAT(store().InsertKey({7, "jwt", {1, 2, 3}, kT0 + 7, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "data", {9, 0, 9}, kT0 + 2, false}), IsOk());
  ASSERT_THAT(store().InsertKey({4294967295u, "data", {}, kT0, true}), IsOk());

  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].id, 2u);
  EXPECT_EQ((*keys)[1].id, 7u);
  EXPECT_EQ((*keys)[2].id, 4294967295u);
  EXPECT_EQ((*keys)[1].purpose, "jwt");
  EXPECT_EQ((*keys)[1].wrapped, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ((*keys)[1].created_at, kT0 + 7);
  EXPECT_TRUE((*keys)[1].active);
  EXPECT_FALSE((*keys)[0].active);
  EXPECT_TRUE((*keys)[2].wrapped.empty());
}

TEST_P(StoreConformanceTest, ActiveKeyDeactivatesOnlyItsPurpose) {
  ASSERT_THAT(store().InsertKey({1, "data", {1}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "jwt", {2}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({3, "data", {3}, kT0, true}), IsOk());
  // An inactive key changes nothing.
  ASSERT_THAT(store().InsertKey({4, "data", {4}, kT0, false}), IsOk());

  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 4u);
  EXPECT_FALSE((*keys)[0].active);
  EXPECT_TRUE((*keys)[1].active);
  EXPECT_TRUE((*keys)[2].active);
  EXPECT_FALSE((*keys)[3].active);
}

TEST_P(StoreConformanceTest, DuplicateKeyIdFailsWithoutDeactivatingAnything) {
  ASSERT_THAT(store().InsertKey({1, "data", {1}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "data", {2}, kT0, true}), IsOk());
  EXPECT_THAT(store().InsertKey({1, "data", {5}, kT0, true}), StatusIs(StatusCode::kAlreadyExists));

  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].wrapped, std::vector<uint8_t>{1});
  EXPECT_TRUE((*keys)[1].active) << "the failed insert must not have deactivated key 2";
}

// --- users and credentials ---------------------------------------------------------------------

TEST_P(StoreConformanceTest, UserRoundTripAndDuplicates) {
  const User alice{NewUuid(), "alice", true, kT0};
  ASSERT_THAT(store().InsertUser(alice, nullptr), IsOk());
  auto got = store().GetUser(alice.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->id, alice.id);
  EXPECT_EQ(got->name, "alice");
  EXPECT_TRUE(got->is_admin);
  EXPECT_EQ(got->created_at, kT0);

  Status dup_name = store().InsertUser({NewUuid(), "alice", false, kT0}, nullptr);
  EXPECT_THAT(dup_name, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_NE(dup_name.message().find("alice"), std::string::npos) << dup_name;
  EXPECT_THAT(store().InsertUser({alice.id, "bob", false, kT0}, nullptr),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().GetUser(NewUuid()), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ListUsersInCreationOrder) {
  auto empty = store().ListUsers();
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->empty());
  const User carol{NewUuid(), "carol", false, kT0 + 3};
  const User alice{NewUuid(), "alice", true, kT0 + 1};
  const User bob{NewUuid(), "bob", false, kT0 + 2};
  for (const User& u : {carol, alice, bob}) {
    ASSERT_THAT(store().InsertUser(u, nullptr), IsOk());
  }
  auto users = store().ListUsers();
  ASSERT_THAT(users, IsOk());
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].id, alice.id);
  EXPECT_TRUE((*users)[0].is_admin);
  EXPECT_EQ((*users)[1].name, "bob");
  EXPECT_EQ((*users)[2].created_at, kT0 + 3);
}

TEST_P(StoreConformanceTest, CredentialRoundTripAndDuplicates) {
  Credential key;
  key.public_id = "pub123";
  key.kind = "key";
  key.principal_kind = PrincipalKind::kAgent;
  key.principal_id = NewUuid();
  key.name = "ci runner";
  key.secret_hmac = std::vector<uint8_t>(32, 0xab);
  key.created_at = kT0;
  ASSERT_THAT(store().InsertCredential(key, nullptr), IsOk());

  Credential revoked = key;
  revoked.public_id = "pub456";
  revoked.kind = "rot";
  revoked.principal_kind = PrincipalKind::kUser;
  revoked.revoked_at = kT0 + 5;
  ASSERT_THAT(store().InsertCredential(revoked, nullptr), IsOk());

  auto got = store().GetCredential("pub123");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->kind, "key");
  EXPECT_EQ(got->principal_kind, PrincipalKind::kAgent);
  EXPECT_EQ(got->principal_id, key.principal_id);
  EXPECT_EQ(got->name, "ci runner");
  EXPECT_EQ(got->secret_hmac, key.secret_hmac);
  EXPECT_EQ(got->created_at, kT0);
  EXPECT_FALSE(got->revoked_at.has_value());

  got = store().GetCredential("pub456");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->principal_kind, PrincipalKind::kUser);
  EXPECT_EQ(got->revoked_at, kT0 + 5);

  Status dup = store().InsertCredential(key, nullptr);
  EXPECT_THAT(dup, StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(dup.message().find("\xab\xab"), std::string::npos) << "no HMAC bytes in messages";
  EXPECT_THAT(store().GetCredential("nope"), StatusIs(StatusCode::kNotFound));
}

// --- vaults ------------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, VaultRoundTrip) {
  const Vault v = AddVault("prod", "owner-1", kT0 + 3);
  auto got = store().GetVault(v.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->id, v.id);
  EXPECT_EQ(got->name, "prod");
  EXPECT_EQ(got->description, "about prod");
  EXPECT_EQ(got->owner_id, "owner-1");
  EXPECT_EQ(got->created_at, kT0 + 3);
  EXPECT_THAT(store().GetVault(NewUuid()), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, AVaultNameMeansOneVaultWhateverItsCaseAndOwner) {
  const Vault prod = AddVault("prod", "owner-1");
  for (const auto& [name, owner] : {std::pair{"prod", "owner-1"}, std::pair{"prod", "owner-2"},
                                    std::pair{"Prod", "owner-2"}, std::pair{"PROD", "owner-1"}}) {
    Status dup = store().InsertVault({NewUuid(), name, "", owner, kT0}, nullptr);
    EXPECT_THAT(dup, StatusIs(StatusCode::kAlreadyExists)) << name << " of " << owner;
    EXPECT_EQ(dup.message(), VaultNameTaken(name));
    EXPECT_EQ(dup.message().find(prod.id), std::string::npos) << "names no other vault";
  }
  EXPECT_THAT(store().InsertVault({NewUuid(), "prod-2", "", "owner-2", kT0}, nullptr), IsOk());
  auto all = store().ListVaults(std::nullopt);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 2u);
  // Deleting a vault frees its name, in any case.
  ASSERT_THAT(store().DeleteVault(prod.id, nullptr), IsOk());
  EXPECT_THAT(store().InsertVault({NewUuid(), "PROD", "", "owner-2", kT0}, nullptr), IsOk());
}

TEST_P(StoreConformanceTest, OfConcurrentInsertsOfOneVaultNameExactlyOneWins) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    const std::string base = "team-" + std::to_string(round);
    std::barrier start(kThreads);
    std::atomic<int> won = 0;
    std::atomic<int> unexpected = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Every thread a different owner and a different case of the same name.
        std::string name = base;
        for (size_t i = 0; i < name.size(); ++i) {
          if (((t >> (i % 3)) & 1) != 0) name[i] = static_cast<char>(std::toupper(name[i]));
        }
        start.arrive_and_wait();
        Status s =
            store().InsertVault({NewUuid(), name, "", "owner-" + std::to_string(t), kT0}, nullptr);
        if (s.ok()) {
          ++won;
        } else if (s.code() != StatusCode::kAlreadyExists) {
          ++unexpected;
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(won.load(), 1) << base;
    EXPECT_EQ(unexpected.load(), 0) << base;
  }
  auto all = store().ListVaults(std::nullopt);
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), static_cast<size_t>(kRounds));
}

TEST_P(StoreConformanceTest, ListVaultsByCreationTimeAndOwner) {
  const Vault late = AddVault("late", "owner-1", kT0 + 30);
  const Vault early = AddVault("early", "owner-2", kT0 + 10);
  const Vault middle = AddVault("middle", "owner-1", kT0 + 20);

  auto all = store().ListVaults(std::nullopt);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, early.id);
  EXPECT_EQ((*all)[1].id, middle.id);
  EXPECT_EQ((*all)[2].id, late.id);

  auto mine = store().ListVaults("owner-1");
  ASSERT_THAT(mine, IsOk());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].id, middle.id);
  EXPECT_EQ((*mine)[1].id, late.id);

  auto none = store().ListVaults("nobody");
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformanceTest, DeleteVaultTakesItsSecretsAlong) {
  const Vault doomed = AddVault("doomed");
  const Vault kept = AddVault("kept");
  auto doomed_secret = Put(doomed.id, "db/password");
  ASSERT_THAT(doomed_secret, IsOk());
  ASSERT_THAT(Put(doomed.id, "db/password"), IsOk());
  ASSERT_THAT(Put(kept.id, "db/password"), IsOk());

  ASSERT_THAT(store().DeleteVault(doomed.id, nullptr), IsOk());
  EXPECT_THAT(store().GetVault(doomed.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetSecretVersion(doomed.id, "db/password", {}),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ConsumeSecretAccess(doomed_secret->secret_id, 1, nullptr),
              StatusIs(StatusCode::kNotFound))
      << "the versions went with the vault";
  EXPECT_THAT(store().GetSecretVersion(kept.id, "db/password", {}), IsOk());
  EXPECT_THAT(store().DeleteVault(doomed.id, nullptr), StatusIs(StatusCode::kNotFound));

  // The name is free again, and a new vault starts empty.
  const Vault again = AddVault("doomed");
  EXPECT_TRUE(ListPaths(again.id, "").empty());
}

}  // namespace
}  // namespace coffer::store_testing
