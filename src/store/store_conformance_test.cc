// The Store conformance tests (see store_conformance_test.h). Each backend's *_test.cc
// instantiates StoreConformanceTest; every test here then runs against that backend.
#include "store/store_conformance_test.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <set>
#include <thread>

#include "common/ids.h"

namespace coffer::store_testing {

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformanceTest);

std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected OK, got " << s;
}

::testing::AssertionResult HasCode(const Status& s, StatusCode code) {
  if (s.code() == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected " << StatusCodeName(code) << ", got " << s;
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
  EXPECT_TRUE(IsOk(store_->InsertVault(v, nullptr)));
  return v;
}

Agent StoreConformanceTest::AddAgent(std::string_view name, std::string_view owner_id,
                                     UnixMicros created_at) {
  Agent a{NewUuid(),  std::string(name), "agent " + std::string(name), std::string(owner_id),
          created_at, std::nullopt};
  EXPECT_TRUE(IsOk(store_->InsertAgent(
      a, {AgentCredential(a.id, std::string(name) + "-key", "key", created_at)}, nullptr)));
  return a;
}

std::vector<AuditEvent> StoreConformanceTest::AllAudit() {
  std::vector<AuditEvent> events;
  EXPECT_TRUE(IsOk(store_->ScanAudit([&](const AuditEvent& e) {
    events.push_back(e);
    return true;
  })));
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
  EXPECT_TRUE(IsOk(page));
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

using Kind = VersionSelector::Kind;

std::string AsString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// --- keyring -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, KeysLoadOrderedByIdWithEveryField) {
  ASSERT_TRUE(IsOk(store().InsertKey({7, "jwt", {1, 2, 3}, kT0 + 7, true})));
  ASSERT_TRUE(IsOk(store().InsertKey({2, "data", {9, 0, 9}, kT0 + 2, false})));
  ASSERT_TRUE(IsOk(store().InsertKey({4294967295u, "data", {}, kT0, true})));

  auto keys = store().LoadKeys();
  ASSERT_TRUE(IsOk(keys));
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
  ASSERT_TRUE(IsOk(store().InsertKey({1, "data", {1}, kT0, true})));
  ASSERT_TRUE(IsOk(store().InsertKey({2, "jwt", {2}, kT0, true})));
  ASSERT_TRUE(IsOk(store().InsertKey({3, "data", {3}, kT0, true})));
  // An inactive key changes nothing.
  ASSERT_TRUE(IsOk(store().InsertKey({4, "data", {4}, kT0, false})));

  auto keys = store().LoadKeys();
  ASSERT_TRUE(IsOk(keys));
  ASSERT_EQ(keys->size(), 4u);
  EXPECT_FALSE((*keys)[0].active);
  EXPECT_TRUE((*keys)[1].active);
  EXPECT_TRUE((*keys)[2].active);
  EXPECT_FALSE((*keys)[3].active);
}

TEST_P(StoreConformanceTest, DuplicateKeyIdFailsWithoutDeactivatingAnything) {
  ASSERT_TRUE(IsOk(store().InsertKey({1, "data", {1}, kT0, true})));
  ASSERT_TRUE(IsOk(store().InsertKey({2, "data", {2}, kT0, true})));
  EXPECT_TRUE(HasCode(store().InsertKey({1, "data", {5}, kT0, true}), StatusCode::kAlreadyExists));

  auto keys = store().LoadKeys();
  ASSERT_TRUE(IsOk(keys));
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].wrapped, std::vector<uint8_t>{1});
  EXPECT_TRUE((*keys)[1].active) << "the failed insert must not have deactivated key 2";
}

// --- users and credentials ---------------------------------------------------------------------

TEST_P(StoreConformanceTest, UserRoundTripAndDuplicates) {
  const User alice{NewUuid(), "alice", true, kT0};
  ASSERT_TRUE(IsOk(store().InsertUser(alice, nullptr)));
  auto got = store().GetUser(alice.id);
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->id, alice.id);
  EXPECT_EQ(got->name, "alice");
  EXPECT_TRUE(got->is_admin);
  EXPECT_EQ(got->created_at, kT0);

  Status dup_name = store().InsertUser({NewUuid(), "alice", false, kT0}, nullptr);
  EXPECT_TRUE(HasCode(dup_name, StatusCode::kAlreadyExists));
  EXPECT_NE(dup_name.message().find("alice"), std::string::npos) << dup_name;
  EXPECT_TRUE(HasCode(store().InsertUser({alice.id, "bob", false, kT0}, nullptr),
                      StatusCode::kAlreadyExists));
  EXPECT_TRUE(HasCode(store().GetUser(NewUuid()), StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ListUsersInCreationOrder) {
  auto empty = store().ListUsers();
  ASSERT_TRUE(IsOk(empty));
  EXPECT_TRUE(empty->empty());
  const User carol{NewUuid(), "carol", false, kT0 + 3};
  const User alice{NewUuid(), "alice", true, kT0 + 1};
  const User bob{NewUuid(), "bob", false, kT0 + 2};
  for (const User& u : {carol, alice, bob}) {
    ASSERT_TRUE(IsOk(store().InsertUser(u, nullptr)));
  }
  auto users = store().ListUsers();
  ASSERT_TRUE(IsOk(users));
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
  ASSERT_TRUE(IsOk(store().InsertCredential(key, nullptr)));

  Credential revoked = key;
  revoked.public_id = "pub456";
  revoked.kind = "rot";
  revoked.principal_kind = PrincipalKind::kUser;
  revoked.revoked_at = kT0 + 5;
  ASSERT_TRUE(IsOk(store().InsertCredential(revoked, nullptr)));

  auto got = store().GetCredential("pub123");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->kind, "key");
  EXPECT_EQ(got->principal_kind, PrincipalKind::kAgent);
  EXPECT_EQ(got->principal_id, key.principal_id);
  EXPECT_EQ(got->name, "ci runner");
  EXPECT_EQ(got->secret_hmac, key.secret_hmac);
  EXPECT_EQ(got->created_at, kT0);
  EXPECT_FALSE(got->revoked_at.has_value());

  got = store().GetCredential("pub456");
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->principal_kind, PrincipalKind::kUser);
  EXPECT_EQ(got->revoked_at, kT0 + 5);

  Status dup = store().InsertCredential(key, nullptr);
  EXPECT_TRUE(HasCode(dup, StatusCode::kAlreadyExists));
  EXPECT_EQ(dup.message().find("\xab\xab"), std::string::npos) << "no HMAC bytes in messages";
  EXPECT_TRUE(HasCode(store().GetCredential("nope"), StatusCode::kNotFound));
}

// --- vaults ------------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, VaultRoundTrip) {
  const Vault v = AddVault("prod", "owner-1", kT0 + 3);
  auto got = store().GetVault(v.id);
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->id, v.id);
  EXPECT_EQ(got->name, "prod");
  EXPECT_EQ(got->description, "about prod");
  EXPECT_EQ(got->owner_id, "owner-1");
  EXPECT_EQ(got->created_at, kT0 + 3);
  EXPECT_TRUE(HasCode(store().GetVault(NewUuid()), StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, AVaultNameMeansOneVaultWhateverItsCaseAndOwner) {
  const Vault prod = AddVault("prod", "owner-1");
  for (const auto& [name, owner] : {std::pair{"prod", "owner-1"}, std::pair{"prod", "owner-2"},
                                    std::pair{"Prod", "owner-2"}, std::pair{"PROD", "owner-1"}}) {
    Status dup = store().InsertVault({NewUuid(), name, "", owner, kT0}, nullptr);
    EXPECT_TRUE(HasCode(dup, StatusCode::kAlreadyExists)) << name << " of " << owner;
    EXPECT_EQ(dup.message(), VaultNameTaken(name));
    EXPECT_EQ(dup.message().find(prod.id), std::string::npos) << "names no other vault";
  }
  EXPECT_TRUE(IsOk(store().InsertVault({NewUuid(), "prod-2", "", "owner-2", kT0}, nullptr)));
  auto all = store().ListVaults(std::nullopt);
  ASSERT_TRUE(IsOk(all));
  EXPECT_EQ(all->size(), 2u);
  // Deleting a vault frees its name, in any case.
  ASSERT_TRUE(IsOk(store().DeleteVault(prod.id, nullptr)));
  EXPECT_TRUE(IsOk(store().InsertVault({NewUuid(), "PROD", "", "owner-2", kT0}, nullptr)));
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
  ASSERT_TRUE(IsOk(all));
  EXPECT_EQ(all->size(), static_cast<size_t>(kRounds));
}

TEST_P(StoreConformanceTest, ListVaultsByCreationTimeAndOwner) {
  const Vault late = AddVault("late", "owner-1", kT0 + 30);
  const Vault early = AddVault("early", "owner-2", kT0 + 10);
  const Vault middle = AddVault("middle", "owner-1", kT0 + 20);

  auto all = store().ListVaults(std::nullopt);
  ASSERT_TRUE(IsOk(all));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, early.id);
  EXPECT_EQ((*all)[1].id, middle.id);
  EXPECT_EQ((*all)[2].id, late.id);

  auto mine = store().ListVaults("owner-1");
  ASSERT_TRUE(IsOk(mine));
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].id, middle.id);
  EXPECT_EQ((*mine)[1].id, late.id);

  auto none = store().ListVaults("nobody");
  ASSERT_TRUE(IsOk(none));
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreConformanceTest, DeleteVaultTakesItsSecretsAlong) {
  const Vault doomed = AddVault("doomed");
  const Vault kept = AddVault("kept");
  auto doomed_secret = Put(doomed.id, "db/password");
  ASSERT_TRUE(IsOk(doomed_secret));
  ASSERT_TRUE(IsOk(Put(doomed.id, "db/password")));
  ASSERT_TRUE(IsOk(Put(kept.id, "db/password")));

  ASSERT_TRUE(IsOk(store().DeleteVault(doomed.id, nullptr)));
  EXPECT_TRUE(HasCode(store().GetVault(doomed.id), StatusCode::kNotFound));
  EXPECT_TRUE(
      HasCode(store().GetSecretVersion(doomed.id, "db/password", {}), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(store().ConsumeSecretAccess(doomed_secret->secret_id, 1, nullptr),
                      StatusCode::kNotFound))
      << "the versions went with the vault";
  EXPECT_TRUE(IsOk(store().GetSecretVersion(kept.id, "db/password", {})));
  EXPECT_TRUE(HasCode(store().DeleteVault(doomed.id, nullptr), StatusCode::kNotFound));

  // The name is free again, and a new vault starts empty.
  const Vault again = AddVault("doomed");
  EXPECT_TRUE(ListPaths(again.id, "").empty());
}

// --- secrets: put and get ----------------------------------------------------------------------

TEST_P(StoreConformanceTest, PutPassesAFullHeaderToSealAndStoresItsCiphertext) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "api-keys/openai", kT0 + 1);
  n.type = SecretType::kApiKey;
  n.metadata_json = R"({"env":"prod"})";
  n.rotation_policy_json = R"({"days":30})";
  n.expires_at = kT0 + 1000;
  n.max_access_count = 3;
  n.created_by = "agent-7";

  SecretVersion seen;
  auto put = store().PutSecretVersion(
      n,
      [&](const SecretVersion& h) -> StatusOr<std::vector<uint8_t>> {
        seen = h;
        return FakeCiphertext(h.secret_id, h.version, "sk-123");
      },
      nullptr);
  ASSERT_TRUE(IsOk(put));

  EXPECT_TRUE(IsUuid(seen.secret_id));
  EXPECT_EQ(seen.vault_id, v.id);
  EXPECT_EQ(seen.path, "api-keys/openai");
  EXPECT_EQ(seen.version, 1);
  EXPECT_EQ(seen.type, SecretType::kApiKey);
  EXPECT_EQ(seen.metadata_json, R"({"env":"prod"})");
  EXPECT_EQ(seen.rotation_policy_json, R"({"days":30})");
  EXPECT_EQ(seen.expires_at, kT0 + 1000);
  EXPECT_EQ(seen.max_access_count, 3);
  EXPECT_EQ(seen.access_count, 0);
  EXPECT_FALSE(seen.disabled_at.has_value());
  EXPECT_EQ(seen.created_at, kT0 + 1);
  EXPECT_EQ(seen.created_by, "agent-7");
  EXPECT_TRUE(seen.ciphertext.empty());

  EXPECT_EQ(put->secret_id, seen.secret_id);
  EXPECT_EQ(put->version, 1);
  EXPECT_TRUE(put->ciphertext.empty()) << "Put returns no ciphertext";

  auto got = store().GetSecretVersion(v.id, "api-keys/openai", VersionSelector::LatestEnabled());
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->secret_id, seen.secret_id);
  EXPECT_EQ(got->vault_id, v.id);
  EXPECT_EQ(got->path, "api-keys/openai");
  EXPECT_EQ(got->type, SecretType::kApiKey);
  EXPECT_EQ(got->metadata_json, R"({"env":"prod"})");
  EXPECT_EQ(got->rotation_policy_json, R"({"days":30})");
  EXPECT_EQ(got->expires_at, kT0 + 1000);
  EXPECT_EQ(got->max_access_count, 3);
  EXPECT_EQ(got->created_at, kT0 + 1);
  EXPECT_EQ(got->created_by, "agent-7");
  EXPECT_EQ(got->ciphertext, FakeCiphertext(seen.secret_id, 1, "sk-123"));
}

TEST_P(StoreConformanceTest, VersionsCountUpUnderOneSecretId) {
  const Vault v = AddVault("v");
  auto first = Put(v.id, "db", "one");
  auto second = Put(v.id, "db", "two");
  auto third = Put(v.id, "db", "three");
  ASSERT_TRUE(IsOk(first));
  ASSERT_TRUE(IsOk(second));
  ASSERT_TRUE(IsOk(third));
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(third->version, 3);
  EXPECT_EQ(second->secret_id, first->secret_id);
  EXPECT_EQ(third->secret_id, first->secret_id);

  auto latest = store().GetSecretVersion(v.id, "db", VersionSelector::LatestEnabled());
  ASSERT_TRUE(IsOk(latest));
  EXPECT_EQ(latest->version, 3);
  EXPECT_EQ(AsString(latest->ciphertext), first->secret_id + "|3|three");
  auto exact = store().GetSecretVersion(v.id, "db", VersionSelector::Exact(2));
  ASSERT_TRUE(IsOk(exact));
  EXPECT_EQ(AsString(exact->ciphertext), first->secret_id + "|2|two");
}

TEST_P(StoreConformanceTest, SamePathInAnotherVaultIsAnotherSecret) {
  const Vault a = AddVault("a");
  const Vault b = AddVault("b");
  auto in_a = Put(a.id, "x");
  auto in_b = Put(b.id, "x");
  ASSERT_TRUE(IsOk(in_a));
  ASSERT_TRUE(IsOk(in_b));
  EXPECT_EQ(in_b->version, 1);
  EXPECT_NE(in_a->secret_id, in_b->secret_id);
}

TEST_P(StoreConformanceTest, PutIntoMissingVaultIsNotFound) {
  auto put = Put(NewUuid(), "x");
  EXPECT_TRUE(HasCode(put, StatusCode::kNotFound));
  if (!put.has_value()) {
    EXPECT_EQ(put.error().message(), "vault not found");
  }
}

TEST_P(StoreConformanceTest, SealErrorAbortsThePut) {
  const Vault v = AddVault("v");
  ASSERT_TRUE(IsOk(Put(v.id, "kept")));
  auto failed = store().PutSecretVersion(
      NewVersion(v.id, "new"),
      [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
        return Err(InternalError("no data key"));
      },
      nullptr);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), InternalError("no data key")) << "seal's own error comes back";
  EXPECT_TRUE(HasCode(store().GetSecretVersion(v.id, "new", {}), StatusCode::kNotFound));

  failed = store().PutSecretVersion(
      NewVersion(v.id, "kept"),
      [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
        return Err(UnavailableError("kms down"));
      },
      nullptr);
  EXPECT_TRUE(HasCode(failed, StatusCode::kUnavailable));
  // Neither failure used up a version number.
  auto next_new = Put(v.id, "new");
  auto next_kept = Put(v.id, "kept");
  ASSERT_TRUE(IsOk(next_new));
  ASSERT_TRUE(IsOk(next_kept));
  EXPECT_EQ(next_new->version, 1);
  EXPECT_EQ(next_kept->version, 2);
}

TEST_P(StoreConformanceTest, GetSelectorsAndTheirErrors) {
  const Vault v = AddVault("v");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(IsOk(Put(v.id, "s", "v" + std::to_string(i))));
  }
  ASSERT_TRUE(IsOk(store().DisableSecretVersion(v.id, "s", 3, kT0 + 9, nullptr)));

  auto enabled = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  ASSERT_TRUE(IsOk(enabled));
  EXPECT_EQ(enabled->version, 2) << "the disabled version 3 is skipped";

  auto any = store().GetSecretVersion(v.id, "s", VersionSelector::LatestAny());
  ASSERT_TRUE(IsOk(any));
  EXPECT_EQ(any->version, 3);
  EXPECT_EQ(any->disabled_at, kT0 + 9);
  EXPECT_FALSE(any->ciphertext.empty());

  // An exact read returns a disabled version as it is; the service decides what to do with it.
  auto exact = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(3));
  ASSERT_TRUE(IsOk(exact));
  EXPECT_TRUE(exact->is_disabled());

  auto missing_version = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(7));
  EXPECT_TRUE(HasCode(missing_version, StatusCode::kNotFound));
  if (!missing_version.has_value()) {
    EXPECT_EQ(missing_version.error().message(), "version 7 not found");
  }
  EXPECT_TRUE(HasCode(store().GetSecretVersion(v.id, "s", VersionSelector::Exact(0)),
                      StatusCode::kNotFound));

  for (const VersionSelector sel : {VersionSelector::LatestEnabled(), VersionSelector::LatestAny(),
                                    VersionSelector::Exact(1)}) {
    auto absent = store().GetSecretVersion(v.id, "other", sel);
    EXPECT_TRUE(HasCode(absent, StatusCode::kNotFound));
    if (!absent.has_value()) {
      EXPECT_EQ(absent.error().message(), "secret not found");
    }
  }
}

TEST_P(StoreConformanceTest, LatestEnabledIsGoneWhenEveryVersionIsDisabled) {
  const Vault v = AddVault("v");
  ASSERT_TRUE(IsOk(Put(v.id, "s")));
  ASSERT_TRUE(IsOk(Put(v.id, "s")));
  ASSERT_TRUE(IsOk(store().DisableSecretVersion(v.id, "s", 1, kT0, nullptr)));
  ASSERT_TRUE(IsOk(store().DisableSecretVersion(v.id, "s", 2, kT0, nullptr)));
  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  EXPECT_TRUE(HasCode(got, StatusCode::kGone));
  if (!got.has_value()) {
    EXPECT_EQ(got.error().message(), "every version of this secret is disabled");
  }
  // A new version makes the secret readable again.
  ASSERT_TRUE(IsOk(Put(v.id, "s")));
  got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->version, 3);
}

// --- versions, disable, delete -----------------------------------------------------------------

TEST_P(StoreConformanceTest, ListSecretVersionsNewestFirstWithoutValues) {
  const Vault v = AddVault("v");
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(IsOk(Put(v.id, "s")));
  }
  ASSERT_TRUE(IsOk(store().DisableSecretVersion(v.id, "s", 2, kT0 + 2, nullptr)));
  auto versions = store().ListSecretVersions(v.id, "s");
  ASSERT_TRUE(IsOk(versions));
  ASSERT_EQ(versions->size(), 4u);
  for (size_t i = 0; i < versions->size(); ++i) {
    const SecretVersion& sv = (*versions)[i];
    EXPECT_EQ(sv.version, static_cast<int64_t>(4 - i));
    EXPECT_EQ(sv.path, "s");
    EXPECT_EQ(sv.vault_id, v.id);
    EXPECT_TRUE(sv.ciphertext.empty());
    EXPECT_EQ(sv.is_disabled(), sv.version == 2);
  }
  EXPECT_TRUE(HasCode(store().ListSecretVersions(v.id, "t"), StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DisableIsIdempotentAndKeepsTheFirstTime) {
  const Vault v = AddVault("v");
  ASSERT_TRUE(IsOk(Put(v.id, "s")));
  auto first = store().DisableSecretVersion(v.id, "s", 1, kT0 + 1, nullptr);
  ASSERT_TRUE(IsOk(first));
  EXPECT_EQ(first->disabled_at, kT0 + 1);
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->path, "s");
  EXPECT_TRUE(first->ciphertext.empty());

  auto again = store().DisableSecretVersion(v.id, "s", 1, kT0 + 99, nullptr);
  ASSERT_TRUE(IsOk(again));
  EXPECT_EQ(again->disabled_at, kT0 + 1);
  auto stored = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(1));
  ASSERT_TRUE(IsOk(stored));
  EXPECT_EQ(stored->disabled_at, kT0 + 1);

  EXPECT_TRUE(
      HasCode(store().DisableSecretVersion(v.id, "s", 2, kT0, nullptr), StatusCode::kNotFound));
  EXPECT_TRUE(
      HasCode(store().DisableSecretVersion(v.id, "t", 1, kT0, nullptr), StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DeleteSecretRemovesEveryVersionAndFreesThePath) {
  const Vault v = AddVault("v");
  auto old = Put(v.id, "s");
  ASSERT_TRUE(IsOk(old));
  ASSERT_TRUE(IsOk(Put(v.id, "s")));
  ASSERT_TRUE(IsOk(Put(v.id, "s2")));

  ASSERT_TRUE(IsOk(store().DeleteSecret(v.id, "s", nullptr)));
  EXPECT_TRUE(HasCode(store().GetSecretVersion(v.id, "s", {}), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(store().ListSecretVersions(v.id, "s"), StatusCode::kNotFound));
  EXPECT_TRUE(
      HasCode(store().ConsumeSecretAccess(old->secret_id, 2, nullptr), StatusCode::kNotFound));
  EXPECT_EQ(ListPaths(v.id, ""), std::vector<std::string>{"s2"});
  EXPECT_TRUE(HasCode(store().DeleteSecret(v.id, "s", nullptr), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(store().DeleteSecret(NewUuid(), "s2", nullptr), StatusCode::kNotFound));

  auto reborn = Put(v.id, "s");
  ASSERT_TRUE(IsOk(reborn));
  EXPECT_EQ(reborn->version, 1);
  EXPECT_NE(reborn->secret_id, old->secret_id);
}

// --- listing -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ListSecretsShowsEachLatestVersionWithoutValues) {
  const Vault v = AddVault("v");
  const Vault other = AddVault("other");
  ASSERT_TRUE(IsOk(Put(v.id, "b")));
  NewSecretVersion n = NewVersion(v.id, "b");
  n.type = SecretType::kNote;
  n.metadata_json = R"({"v":2})";
  ASSERT_TRUE(IsOk(store().PutSecretVersion(n, FakeSeal("x"), nullptr)));
  ASSERT_TRUE(IsOk(Put(v.id, "a")));
  ASSERT_TRUE(IsOk(Put(other.id, "a0")));

  auto page = store().ListSecrets(v.id, "", "", 100);
  ASSERT_TRUE(IsOk(page));
  ASSERT_EQ(page->secrets.size(), 2u);
  EXPECT_TRUE(page->next_after.empty());
  EXPECT_EQ(page->secrets[0].path, "a");
  EXPECT_EQ(page->secrets[0].version, 1);
  EXPECT_EQ(page->secrets[1].path, "b");
  EXPECT_EQ(page->secrets[1].version, 2);
  EXPECT_EQ(page->secrets[1].type, SecretType::kNote);
  EXPECT_EQ(page->secrets[1].metadata_json, R"({"v":2})");
  for (const SecretSummary& s : page->secrets) {
    EXPECT_TRUE(s.ciphertext.empty());
    EXPECT_EQ(s.vault_id, v.id);
  }
}

TEST_P(StoreConformanceTest, ListSecretsPrefixIsAPlainStringPrefixInByteOrder) {
  const Vault v = AddVault("v");
  const Vault other = AddVault("other");
  const std::vector<std::string> paths = {
      "a", "a-",  "a-b", "a/b", "a/c/d", "a/c/d/e", "a0", "a_",  "ab",  "aa/z",
      "A", "A/a", "_x",  "-",   "b",     "b/a",     "z",  "z/z", "9/9", "a--",
  };
  for (const std::string& p : paths) {
    ASSERT_TRUE(IsOk(Put(v.id, p)));
  }
  ASSERT_TRUE(IsOk(Put(other.id, "a/in-other-vault")));

  for (const std::string prefix : {"", "a", "a-", "a/", "a/c", "a/c/d", "a/c/d/", "aa", "A", "_",
                                   "-", "z", "z/z", "zz", "0", "a/b/c"}) {
    std::vector<std::string> want;
    for (const std::string& p : paths) {
      if (p.starts_with(prefix)) {
        want.push_back(p);
      }
    }
    std::sort(want.begin(), want.end());  // byte order, like the store's
    std::string next;
    EXPECT_EQ(ListPaths(v.id, prefix, "", 1000, &next), want) << "prefix '" << prefix << "'";
    EXPECT_TRUE(next.empty());
  }
}

TEST_P(StoreConformanceTest, ListSecretsPaginates) {
  const Vault v = AddVault("v");
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) {
    char path[16];
    std::snprintf(path, sizeof(path), "p/%02d", i);
    want.push_back(path);
    ASSERT_TRUE(IsOk(Put(v.id, path)));
  }
  ASSERT_TRUE(IsOk(Put(v.id, "o/first")));
  ASSERT_TRUE(IsOk(Put(v.id, "q/last")));

  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  std::string after;
  do {
    std::string next;
    std::vector<std::string> page = ListPaths(v.id, "p/", after, 10, &next);
    page_sizes.push_back(page.size());
    seen.insert(seen.end(), page.begin(), page.end());
    if (!next.empty()) {
      EXPECT_EQ(next, page.back());
    }
    after = next;
  } while (!after.empty() && page_sizes.size() < 10);
  EXPECT_EQ(seen, want);
  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5}));

  // A page that ends exactly at the last match says nothing remains.
  std::string next = "unset";
  EXPECT_EQ(ListPaths(v.id, "p/", "p/19", 5, &next).size(), 5u);
  EXPECT_TRUE(next.empty());

  // `after` is exclusive and need not exist; one before the prefix changes nothing.
  EXPECT_EQ(ListPaths(v.id, "p/", "p/22"), (std::vector<std::string>{"p/23", "p/24"}));
  EXPECT_EQ(ListPaths(v.id, "p/", "p/225"), (std::vector<std::string>{"p/23", "p/24"}));
  EXPECT_EQ(ListPaths(v.id, "p/", "a").size(), 25u);
  EXPECT_TRUE(ListPaths(v.id, "p/", "p/24").empty());
  EXPECT_TRUE(ListPaths(v.id, "p/", "q").empty());
  EXPECT_EQ(ListPaths(v.id, "", "p/24"), std::vector<std::string>{"q/last"});

  // Limit 0 is no limit.
  next = "unset";
  EXPECT_EQ(ListPaths(v.id, "", "", 0, &next).size(), 27u);
  EXPECT_TRUE(next.empty());
}

// --- counted reads -----------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ConsumeCountsUpToTheLimitThenIsGone) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "once");
  n.max_access_count = 3;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_TRUE(IsOk(put));
  for (int64_t want = 1; want <= 3; ++want) {
    auto count = store().ConsumeSecretAccess(put->secret_id, 1, nullptr);
    ASSERT_TRUE(IsOk(count));
    EXPECT_EQ(*count, want);
  }
  EXPECT_TRUE(HasCode(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), StatusCode::kGone));
  auto got = store().GetSecretVersion(v.id, "once", {});
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->access_count, 3);

  EXPECT_TRUE(
      HasCode(store().ConsumeSecretAccess(put->secret_id, 2, nullptr), StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(store().ConsumeSecretAccess(NewUuid(), 1, nullptr), StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ConsumeOnADisabledVersionIsGone) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "s");
  n.max_access_count = 5;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_TRUE(IsOk(put));
  ASSERT_TRUE(IsOk(store().ConsumeSecretAccess(put->secret_id, 1, nullptr)));
  ASSERT_TRUE(IsOk(store().DisableSecretVersion(v.id, "s", 1, kT0, nullptr)));
  EXPECT_TRUE(HasCode(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), StatusCode::kGone));
  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(1));
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->access_count, 1);
}

TEST_P(StoreConformanceTest, ConsumeOnAnUnlimitedVersionIsAPreconditionError) {
  const Vault v = AddVault("v");
  auto put = Put(v.id, "s");
  ASSERT_TRUE(IsOk(put));
  EXPECT_TRUE(HasCode(store().ConsumeSecretAccess(put->secret_id, 1, nullptr),
                      StatusCode::kFailedPrecondition));
}

// --- concurrency -------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ConcurrentPutsToOnePathGetDenseUniqueVersions) {
  constexpr int kThreads = 16;
  constexpr int kPutsPerThread = 50;
  const Vault v = AddVault("v");
  std::vector<std::vector<int64_t>> got(kThreads);
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPutsPerThread; ++i) {
        auto put = Put(v.id, "hot/path", "t" + std::to_string(t));
        if (put.has_value()) {
          got[t].push_back(put->version);
        } else {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);

  std::vector<int64_t> all;
  for (const auto& versions : got) {
    // Each caller's own puts are ordered.
    EXPECT_TRUE(std::is_sorted(versions.begin(), versions.end()));
    all.insert(all.end(), versions.begin(), versions.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(kThreads * kPutsPerThread);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(all, want) << "versions must be exactly 1..800";

  auto listed = store().ListSecretVersions(v.id, "hot/path");
  ASSERT_TRUE(IsOk(listed));
  ASSERT_EQ(listed->size(), want.size());
  EXPECT_EQ(listed->front().version, kThreads * kPutsPerThread);
  EXPECT_EQ(listed->back().version, 1);
  auto latest = store().GetSecretVersion(v.id, "hot/path", {});
  ASSERT_TRUE(IsOk(latest));
  EXPECT_EQ(latest->version, kThreads * kPutsPerThread);
}

TEST_P(StoreConformanceTest, ConcurrentConsumersGetExactlyTheLimit) {
  constexpr int kThreads = 16;
  constexpr int64_t kLimit = 25;
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "limited");
  n.max_access_count = kLimit;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_TRUE(IsOk(put));

  std::vector<std::vector<int64_t>> counts(kThreads);
  std::atomic<int> gone = 0;
  std::atomic<int> other = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto count = store().ConsumeSecretAccess(put->secret_id, 1, nullptr);
        if (count.has_value()) {
          counts[t].push_back(*count);
        } else if (count.error().code() == StatusCode::kGone) {
          ++gone;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::vector<int64_t> all;
  for (const auto& c : counts) {
    all.insert(all.end(), c.begin(), c.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(kLimit);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(all, want) << "exactly 25 successes, each count handed out once";
  EXPECT_EQ(gone.load(), kThreads * 5 - kLimit);
  EXPECT_EQ(other.load(), 0);
  auto got = store().GetSecretVersion(v.id, "limited", {});
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->access_count, kLimit);
}

TEST_P(StoreConformanceTest, FailingWritesAmongConcurrentOnesDoNotDisturbThem) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  const Vault v = AddVault("v");
  const SealFunction failing_seal = [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
    return Err(InternalError("seal failed"));
  };
  std::atomic<int> unexpected = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string mine = "t/" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        if (!Put(v.id, mine).has_value()) {
          ++unexpected;
        }
        // Three writes that must fail, each for its own reason.
        if (store().InsertVault({NewUuid(), v.name, "", v.owner_id, kT0}, nullptr).code() !=
            StatusCode::kAlreadyExists) {
          ++unexpected;
        }
        auto sealed =
            store().PutSecretVersion(NewVersion(v.id, mine + "/never"), failing_seal, nullptr);
        if (sealed.has_value() || sealed.error() != InternalError("seal failed")) {
          ++unexpected;
        }
        if (store().DeleteSecret(v.id, "absent", nullptr).code() != StatusCode::kNotFound) {
          ++unexpected;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(unexpected.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    auto versions = store().ListSecretVersions(v.id, "t/" + std::to_string(t));
    ASSERT_TRUE(IsOk(versions));
    EXPECT_EQ(versions->size(), static_cast<size_t>(kRounds));
    EXPECT_EQ(versions->front().version, kRounds);
  }
  EXPECT_EQ(ListPaths(v.id, "").size(), static_cast<size_t>(kThreads));
}

TEST_P(StoreConformanceTest, ReadsSeeEveryAcknowledgedWrite) {
  const Vault v = AddVault("v");
  std::atomic<bool> stop = false;
  std::atomic<int64_t> acknowledged = 0;
  std::atomic<int> violations = 0;
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      auto put = Put(v.id, "s");
      if (put.has_value()) {
        acknowledged = put->version;
      }
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        const int64_t floor = acknowledged.load();
        auto got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestAny());
        if (floor > 0 && (!got.has_value() || got->version < floor)) {
          ++violations;
        }
      }
    });
  }
  writer.join();
  for (std::thread& r : readers) {
    r.join();
  }
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(acknowledged.load(), 30);
}

// --- copying a store -----------------------------------------------------------------------

TEST_P(StoreConformanceTest, ImportSecretVersionKeepsEveryFieldAndNumberingContinues) {
  const Vault v = AddVault("v");
  SecretVersion first;
  first.secret_id = NewUuid();
  first.vault_id = v.id;
  first.path = "imported/key";
  first.version = 1;
  first.type = SecretType::kSshKey;
  first.metadata_json = R"({"from":"sqlite"})";
  first.rotation_policy_json = R"({"days":30})";
  first.expires_at = kT0 + 99;
  first.max_access_count = 5;
  first.access_count = 2;
  first.created_at = kT0 + 1;
  first.created_by = "user-9";
  first.ciphertext = FakeCiphertext(first.secret_id, 1, "one");
  SecretVersion second = first;
  second.version = 2;
  second.max_access_count = 0;
  second.access_count = 0;
  second.disabled_at = kT0 + 3;
  second.ciphertext = FakeCiphertext(first.secret_id, 2, "two");
  ASSERT_TRUE(IsOk(store().ImportSecretVersion(first)));
  ASSERT_TRUE(IsOk(store().ImportSecretVersion(second)));

  auto got = store().GetSecretVersion(v.id, "imported/key", VersionSelector::Exact(1));
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->secret_id, first.secret_id);
  EXPECT_EQ(got->type, SecretType::kSshKey);
  EXPECT_EQ(got->metadata_json, first.metadata_json);
  EXPECT_EQ(got->rotation_policy_json, first.rotation_policy_json);
  EXPECT_EQ(got->expires_at, first.expires_at);
  EXPECT_EQ(got->max_access_count, 5);
  EXPECT_EQ(got->access_count, 2);
  EXPECT_FALSE(got->disabled_at.has_value());
  EXPECT_EQ(got->created_at, kT0 + 1);
  EXPECT_EQ(got->created_by, "user-9");
  EXPECT_EQ(got->ciphertext, first.ciphertext);
  auto latest = store().GetSecretVersion(v.id, "imported/key", VersionSelector::LatestEnabled());
  ASSERT_TRUE(IsOk(latest));
  EXPECT_EQ(latest->version, 1) << "version 2 came in disabled";
  auto disabled = store().GetSecretVersion(v.id, "imported/key", VersionSelector::Exact(2));
  ASSERT_TRUE(IsOk(disabled));
  EXPECT_EQ(disabled->disabled_at, kT0 + 3);
  EXPECT_EQ(disabled->ciphertext, second.ciphertext);

  auto third = Put(v.id, "imported/key");
  ASSERT_TRUE(IsOk(third));
  EXPECT_EQ(third->version, 3);
  EXPECT_EQ(third->secret_id, first.secret_id);

  SecretVersion gap = first;
  gap.version = 5;
  EXPECT_TRUE(HasCode(store().ImportSecretVersion(gap), StatusCode::kFailedPrecondition));
  EXPECT_TRUE(HasCode(store().ImportSecretVersion(first), StatusCode::kAlreadyExists));
  SecretVersion elsewhere = first;
  elsewhere.secret_id = NewUuid();
  elsewhere.vault_id = NewUuid();
  EXPECT_TRUE(HasCode(store().ImportSecretVersion(elsewhere), StatusCode::kNotFound));
}

// --- durability --------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, EverythingSurvivesReopen) {
  ASSERT_TRUE(IsOk(store().InsertKey({1, "data", {1, 2}, kT0, true})));
  const User user{NewUuid(), "alice", false, kT0};
  ASSERT_TRUE(IsOk(store().InsertUser(user, nullptr)));
  Credential cred;
  cred.public_id = "pub";
  cred.kind = "key";
  cred.principal_id = user.id;
  cred.secret_hmac = {7, 7, 7};
  ASSERT_TRUE(IsOk(store().InsertCredential(cred, nullptr)));
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "s");
  n.max_access_count = 10;
  auto first = store().PutSecretVersion(n, FakeSeal("one"), nullptr);
  ASSERT_TRUE(IsOk(first));
  ASSERT_TRUE(IsOk(Put(v.id, "s", "two")));
  ASSERT_TRUE(IsOk(store().ConsumeSecretAccess(first->secret_id, 1, nullptr)));
  ASSERT_TRUE(IsOk(store().DisableSecretVersion(v.id, "s", 2, kT0 + 2, nullptr)));

  Reopen();

  auto keys = store().LoadKeys();
  ASSERT_TRUE(IsOk(keys));
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].wrapped, (std::vector<uint8_t>{1, 2}));
  EXPECT_TRUE(IsOk(store().GetUser(user.id)));
  auto got_cred = store().GetCredential("pub");
  ASSERT_TRUE(IsOk(got_cred));
  EXPECT_EQ(got_cred->secret_hmac, (std::vector<uint8_t>{7, 7, 7}));
  EXPECT_TRUE(IsOk(store().GetVault(v.id)));
  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->access_count, 1);
  EXPECT_EQ(AsString(got->ciphertext), first->secret_id + "|1|one");
  auto disabled = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(2));
  ASSERT_TRUE(IsOk(disabled));
  EXPECT_EQ(disabled->disabled_at, kT0 + 2);
  // Numbering continues where it stopped.
  auto third = Put(v.id, "s");
  ASSERT_TRUE(IsOk(third));
  EXPECT_EQ(third->version, 3);
}

}  // namespace
}  // namespace coffer::store_testing
