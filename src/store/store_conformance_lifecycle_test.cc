// Conformance tests for the version lifecycle: aliases (reads through them, moves on writes,
// promote and rollback), destroying versions, and kept-version limits (retention).
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

using Aliases = std::map<std::string, int64_t>;

StatusOr<SecretVersion> PutStaged(Store& store, const std::string& vault_id,
                                  const std::string& path, std::string value, bool pending) {
  NewSecretVersion n;
  n.vault_id = vault_id;
  n.path = path;
  n.stage_pending = pending;
  return store.PutSecretVersion(n, FakeSeal(std::move(value)), nullptr);
}

TEST_P(StoreConformanceTest, AliasesAreSetReadAndRemoved) {
  const Vault v = AddVault("v");
  ASSERT_THAT(Put(v.id, "db", "one"), IsOk());
  ASSERT_THAT(Put(v.id, "db", "two"), IsOk());

  auto set = store().SetSecretAlias(v.id, "db", "blue", 1, nullptr);
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(*set, (Aliases{{"blue", 1}}));
  auto read = store().GetSecretVersion(v.id, "db", VersionSelector::Alias("blue"));
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->version, 1);
  EXPECT_EQ(read->ciphertext, FakeCiphertext(read->secret_id, 1, "one"));
  EXPECT_EQ(read->aliases, (Aliases{{"blue", 1}}));

  EXPECT_THAT(store().GetSecretVersion(v.id, "db", VersionSelector::Alias("green")),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().SetSecretAlias(v.id, "db", "blue", 9, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().SetSecretAlias(v.id, "nothing", "blue", 1, nullptr),
              StatusIs(StatusCode::kNotFound));

  // Without `current`, a current read is the latest readable version; with it, what it names.
  auto plain = store().GetSecretVersion(v.id, "db", VersionSelector::Current());
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->version, 2);
  ASSERT_THAT(store().SetSecretAlias(v.id, "db", "current", 1, nullptr), IsOk());
  plain = store().GetSecretVersion(v.id, "db", VersionSelector::Current());
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->version, 1);

  // A disabled version cannot be named.
  ASSERT_THAT(store().DisableSecretVersion(v.id, "db", 2, kT0, nullptr), IsOk());
  EXPECT_THAT(store().SetSecretAlias(v.id, "db", "blue", 2, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));

  auto removed = store().DeleteSecretAlias(v.id, "db", "blue", nullptr);
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, (Aliases{{"current", 1}}));
  EXPECT_THAT(store().DeleteSecretAlias(v.id, "db", "blue", nullptr),
              StatusIs(StatusCode::kNotFound));

  auto listed = store().ListSecretVersions(v.id, "db");
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->front().aliases, (Aliases{{"current", 1}}));

  // Aliases go with their secret.
  ASSERT_THAT(store().DeleteSecret(v.id, "db", nullptr), IsOk());
  ASSERT_THAT(Put(v.id, "db", "again"), IsOk());
  auto fresh = store().GetSecretVersion(v.id, "db", VersionSelector::Current());
  ASSERT_THAT(fresh, IsOk());
  EXPECT_TRUE(fresh->aliases.empty());
}

TEST_P(StoreConformanceTest, WritesMoveAliasesAndPromoteAndRollbackAreInverses) {
  const Vault v = AddVault("v");
  ASSERT_THAT(PutStaged(store(), v.id, "k", "one", false), IsOk());
  // No current yet: a plain write moves nothing.
  ASSERT_THAT(PutStaged(store(), v.id, "k", "two", false), IsOk());
  auto latest = store().GetSecretVersion(v.id, "k", VersionSelector::LatestAny());
  ASSERT_THAT(latest, IsOk());
  EXPECT_TRUE(latest->aliases.empty());

  // A staged write pins what was read (2) as current and becomes pending.
  auto staged = PutStaged(store(), v.id, "k", "three", true);
  ASSERT_THAT(staged, IsOk());
  EXPECT_EQ(staged->aliases, (Aliases{{"current", 2}, {"pending", 3}}));
  auto plain = store().GetSecretVersion(v.id, "k", VersionSelector::Current());
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->version, 2);

  auto promoted = store().PromoteSecret(v.id, "k", nullptr);
  ASSERT_THAT(promoted, IsOk());
  EXPECT_EQ(*promoted, (Aliases{{"current", 3}, {"previous", 2}}));
  EXPECT_THAT(store().PromoteSecret(v.id, "k", nullptr), StatusIs(StatusCode::kFailedPrecondition));

  auto rolled = store().RollbackSecret(v.id, "k", nullptr);
  ASSERT_THAT(rolled, IsOk());
  EXPECT_EQ(*rolled, (Aliases{{"current", 2}, {"pending", 3}}));
  EXPECT_THAT(store().RollbackSecret(v.id, "k", nullptr),
              StatusIs(StatusCode::kFailedPrecondition));

  // With current set, a plain write moves current and the old current becomes previous.
  auto written = PutStaged(store(), v.id, "k", "four", false);
  ASSERT_THAT(written, IsOk());
  EXPECT_EQ(written->aliases, (Aliases{{"current", 4}, {"pending", 3}, {"previous", 2}}));

  // A pending version disabled meanwhile is not promoted.
  ASSERT_THAT(store().DisableSecretVersion(v.id, "k", 3, kT0, nullptr), IsOk());
  EXPECT_THAT(store().PromoteSecret(v.id, "k", nullptr), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().PromoteSecret(v.id, "none", nullptr), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, OfConcurrentPromotesExactlyOneSucceeds) {
  const Vault v = AddVault("v");
  for (int round = 0; round < 5; ++round) {
    ASSERT_THAT(PutStaged(store(), v.id, "p", "x" + std::to_string(round), true), IsOk());
    std::atomic<int> ok = 0;
    std::atomic<int> refused = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        auto r = store().PromoteSecret(v.id, "p", nullptr);
        if (r.has_value()) {
          ++ok;
        } else if (r.error().code() == StatusCode::kFailedPrecondition) {
          ++refused;
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), 5) << "round " << round;
  }
}

TEST_P(StoreConformanceTest, DestroyErasesTheCiphertextAndKeepsTheRow) {
  const Vault v = AddVault("v");
  ASSERT_THAT(Put(v.id, "d", "one"), IsOk());
  ASSERT_THAT(Put(v.id, "d", "two"), IsOk());
  ASSERT_THAT(Put(v.id, "d", "three"), IsOk());
  ASSERT_THAT(store().SetSecretAlias(v.id, "d", "old", 1, nullptr), IsOk());

  AuditEvent event = MakeEvent("secret.destroy_version", v.id);
  auto destroyed = store().DestroySecretVersion(v.id, "d", 1, kT0 + 5, &event);
  ASSERT_THAT(destroyed, IsOk());
  EXPECT_EQ(destroyed->destroyed_at, kT0 + 5);
  EXPECT_EQ(destroyed->disabled_at, kT0 + 5);
  EXPECT_TRUE(destroyed->aliases.empty()) << "an alias naming a destroyed version goes";
  auto row = store().GetSecretVersion(v.id, "d", VersionSelector::Exact(1));
  ASSERT_THAT(row, IsOk());
  EXPECT_TRUE(row->ciphertext.empty());
  EXPECT_TRUE(row->is_destroyed());
  // Again: OK, the first time stays.
  auto again = store().DestroySecretVersion(v.id, "d", 1, kT0 + 9, nullptr);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->destroyed_at, kT0 + 5);
  std::vector<AuditEvent> audit = AllAudit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].version, 1);

  // Neither current's nor pending's version may be destroyed.
  ASSERT_THAT(store().SetSecretAlias(v.id, "d", "current", 3, nullptr), IsOk());
  EXPECT_THAT(store().DestroySecretVersion(v.id, "d", 3, kT0, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().DestroySecretVersion(v.id, "d", 7, kT0, nullptr),
              StatusIs(StatusCode::kNotFound));
  // Destroyed rows name no data key and are not offered for re-encryption.
  auto listed = store().ListCiphertextsNotUnderKey(12345, "", 0, 100);
  ASSERT_THAT(listed, IsOk());
  for (const StoredCiphertext& c : *listed) {
    EXPECT_NE(c.version, 1) << "a destroyed version was listed";
  }
  auto counts = store().CountCiphertextsByKey();
  ASSERT_THAT(counts, IsOk());
  int64_t total = 0;
  for (const auto& [key, n] : *counts) total += n;
  EXPECT_EQ(total, 2);
}

TEST_P(StoreConformanceTest, RetentionDestroysTheOldestBeyondTheLimitAndAuditsEach) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "r");
  n.max_versions = 2;
  for (int i = 1; i <= 4; ++i) {
    AuditEvent event = MakeEvent("secret.write", v.id);
    auto put = store().PutSecretVersion(n, FakeSeal("v" + std::to_string(i)), &event);
    ASSERT_THAT(put, IsOk());
    EXPECT_EQ(put->secret_max_versions, 2);
  }
  auto versions = store().ListSecretVersions(v.id, "r");
  ASSERT_THAT(versions, IsOk());
  ASSERT_EQ(versions->size(), 4u);
  EXPECT_FALSE((*versions)[0].is_destroyed());  // 4
  EXPECT_FALSE((*versions)[1].is_destroyed());  // 3
  EXPECT_TRUE((*versions)[2].is_destroyed());   // 2
  EXPECT_TRUE((*versions)[3].is_destroyed());   // 1
  int destroys = 0;
  for (const AuditEvent& e : AllAudit()) {
    if (e.action == "secret.destroy_version") {
      ++destroys;
      EXPECT_EQ(e.path, "r");
      EXPECT_LE(e.version, 2);
    }
  }
  EXPECT_EQ(destroys, 2);
  EXPECT_TRUE(ChainIsIntact(AllAudit()));

  // The vault's limit applies too (the smaller one); current and pending are never destroyed.
  ASSERT_THAT(store().SetVaultMaxVersions(v.id, 1, nullptr), IsOk());
  auto vault = store().GetVault(v.id);
  ASSERT_THAT(vault, IsOk());
  EXPECT_EQ(vault->max_versions, 1);
  ASSERT_THAT(store().SetSecretAlias(v.id, "r", "current", 4, nullptr), IsOk());
  auto staged = PutStaged(store(), v.id, "r", "v5", true);
  ASSERT_THAT(staged, IsOk());
  versions = store().ListSecretVersions(v.id, "r");
  ASSERT_THAT(versions, IsOk());
  EXPECT_FALSE((*versions)[0].is_destroyed()) << "5 is pending";
  EXPECT_FALSE((*versions)[1].is_destroyed()) << "4 is current";
  EXPECT_TRUE((*versions)[2].is_destroyed());
  EXPECT_THAT(store().SetVaultMaxVersions(v.id, -1, nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().SetVaultMaxVersions("no-such-vault", 1, nullptr),
              StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace coffer::store_testing
