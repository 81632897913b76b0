// Conformance tests for check-and-set writes (NewSecretVersion::expected_latest): the check
// holds inside the write, and of concurrent writers expecting one version exactly one wins.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

StatusOr<SecretVersion> PutExpecting(Store& store, const NewSecretVersion& base, int64_t expected,
                                     std::string value) {
  NewSecretVersion n = base;
  n.expected_latest = expected;
  return store.PutSecretVersion(n, FakeSeal(std::move(value)), nullptr);
}

TEST_P(StoreConformanceTest, CheckAndSetWritesOnlyOverTheExpectedVersion) {
  const Vault v = AddVault("v");
  const NewSecretVersion base = NewVersion(v.id, "db/password");

  // Expecting a version of a secret that does not exist is refused, and creates nothing.
  auto missing = PutExpecting(store(), base, 1, "a");
  EXPECT_THAT(missing, StatusIs(StatusCode::kFailedPrecondition));
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().payload().precondition_failed);
  EXPECT_THAT(store().ListSecretVersions(v.id, "db/password"), StatusIs(StatusCode::kNotFound));

  // 0: only create.
  auto created = PutExpecting(store(), base, 0, "a");
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->version, 1);
  auto again = PutExpecting(store(), base, 0, "b");
  EXPECT_THAT(again, StatusIs(StatusCode::kFailedPrecondition));

  // Over the latest version: written; over an older one: refused, nothing written.
  auto second = PutExpecting(store(), base, 1, "b");
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->version, 2);
  auto stale = PutExpecting(store(), base, 1, "c");
  ASSERT_THAT(stale, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE(stale.error().payload().precondition_failed);
  EXPECT_NE(stale.error().message().find("latest version is 2"), std::string::npos)
      << stale.error().message();
  auto latest = store().GetSecretVersion(v.id, "db/password", VersionSelector::LatestAny());
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->ciphertext, FakeCiphertext(latest->secret_id, 2, "b"));

  // A write without an expectation is not checked.
  EXPECT_THAT(Put(v.id, "db/password", "d"), IsOk());
}

// Of N writers that all expect the same latest version, exactly one writes; the others are
// refused and leave nothing behind.
TEST_P(StoreConformanceTest, OfConcurrentCheckAndSetWritersExactlyOneWins) {
  constexpr int kThreads = 12;
  constexpr int kRounds = 5;
  const Vault v = AddVault("v");
  const NewSecretVersion base = NewVersion(v.id, "hot/cas");
  for (int round = 0; round < kRounds; ++round) {
    // Round 0 races to create (expected 0); later rounds race over version `round`.
    std::atomic<int> won = 0;
    std::atomic<int> refused = 0;
    std::atomic<int> other = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto put = PutExpecting(store(), base, round,
                                "r" + std::to_string(round) + "t" + std::to_string(t));
        if (put.has_value()) {
          EXPECT_EQ(put->version, round + 1);
          ++won;
        } else if (put.error().code() == StatusCode::kFailedPrecondition) {
          ++refused;
        } else {
          ++other;
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), kThreads - 1) << "round " << round;
    EXPECT_EQ(other.load(), 0) << "round " << round;
  }
  auto versions = store().ListSecretVersions(v.id, "hot/cas");
  ASSERT_THAT(versions, IsOk());
  EXPECT_EQ(versions->size(), static_cast<size_t>(kRounds));
}

}  // namespace
}  // namespace coffer::store_testing
