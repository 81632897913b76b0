// Conformance tests for concurrent use of the store: puts to one path, consumers of a counted
// version, failing writes among good ones, and reads that see every acknowledged write.
#include <algorithm>
#include <atomic>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

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
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), want.size());
  EXPECT_EQ(listed->front().version, kThreads * kPutsPerThread);
  EXPECT_EQ(listed->back().version, 1);
  auto latest = store().GetSecretVersion(v.id, "hot/path", {});
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->version, kThreads * kPutsPerThread);
}

TEST_P(StoreConformanceTest, ConcurrentConsumersGetExactlyTheLimit) {
  constexpr int kThreads = 16;
  constexpr int64_t kLimit = 25;
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "limited");
  n.max_access_count = kLimit;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());

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
  ASSERT_THAT(got, IsOk());
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
    ASSERT_THAT(versions, IsOk());
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

}  // namespace
}  // namespace coffer::store_testing
