// Conformance tests for usage counts (Store::ApplyUsage): increments that add up, later reads
// that win, read-limited versions left to ConsumeSecretAccess, missing rows skipped, and
// concurrent flushes that lose nothing.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

SecretVersion Latest(Store& store, const std::string& vault_id, const std::string& path) {
  auto v = store.GetSecretVersion(vault_id, path, VersionSelector::Exact(1));
  EXPECT_THAT(v, IsOk());
  return v.value_or(SecretVersion{});
}

TEST_P(StoreConformanceTest, ApplyUsageAddsReadsAndKeepsTheLatestReader) {
  const Vault v = AddVault("v");
  auto put = Put(v.id, "a/b");
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(Put(v.id, "a/b"), IsOk());  // version 2
  EXPECT_FALSE(Latest(store(), v.id, "a/b").last_read_at.has_value());

  UsageBatch batch;
  batch.reads.push_back({put->secret_id, 1, 3, kT0 + 10, "agent-a"});
  batch.reads.push_back({put->secret_id, 1, 2, kT0 + 30, "agent-b"});
  batch.reads.push_back({put->secret_id, 2, 1, kT0 + 20, "agent-c"});
  ASSERT_THAT(store().ApplyUsage(batch), IsOk());
  SecretVersion one = Latest(store(), v.id, "a/b");
  EXPECT_EQ(one.access_count, 5);
  EXPECT_EQ(one.last_read_at, kT0 + 30);
  EXPECT_EQ(one.last_read_by, "agent-b");
  EXPECT_EQ(one.secret_read_count, 6);
  EXPECT_EQ(one.secret_last_read_at, kT0 + 30);
  EXPECT_EQ(one.secret_last_read_by, "agent-b");

  // An older read from another server adds its count but not its reader.
  UsageBatch older;
  older.reads.push_back({put->secret_id, 1, 4, kT0 + 5, "agent-old"});
  ASSERT_THAT(store().ApplyUsage(older), IsOk());
  one = Latest(store(), v.id, "a/b");
  EXPECT_EQ(one.access_count, 9);
  EXPECT_EQ(one.last_read_by, "agent-b");
  EXPECT_EQ(one.secret_read_count, 10);

  auto versions = store().ListSecretVersions(v.id, "a/b");
  ASSERT_THAT(versions, IsOk());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].access_count, 1);
  EXPECT_EQ((*versions)[0].last_read_by, "agent-c");

  auto page = store().ListSecrets(v.id, "", "", 0);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->secrets.size(), 1u);
  EXPECT_EQ(page->secrets[0].secret_read_count, 10);
  EXPECT_EQ(page->secrets[0].secret_last_read_at, kT0 + 30);
}

TEST_P(StoreConformanceTest, ApplyUsageLeavesReadLimitedCountsToConsumeSecretAccess) {
  const Vault v = AddVault("v");
  NewSecretVersion nv = NewVersion(v.id, "limited");
  nv.max_access_count = 5;
  auto put = store().PutSecretVersion(nv, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), IsOk());
  UsageBatch batch;
  batch.reads.push_back({put->secret_id, 1, 1, kT0 + 1, "reader"});
  ASSERT_THAT(store().ApplyUsage(batch), IsOk());
  const SecretVersion got = Latest(store(), v.id, "limited");
  EXPECT_EQ(got.access_count, 1);  // exact: only the consumed read
  EXPECT_EQ(got.last_read_at, kT0 + 1);
  EXPECT_EQ(got.last_read_by, "reader");
  EXPECT_EQ(got.secret_read_count, 1);
}

TEST_P(StoreConformanceTest, ApplyUsageSetsAgentsLastUseAndSkipsMissingRows) {
  const Agent a = AddAgent("worker");
  UsageBatch batch;
  batch.agents.push_back({a.id, kT0 + 50});
  batch.agents.push_back({"no-such-agent", kT0 + 50});
  batch.reads.push_back({"no-such-secret", 1, 1, kT0, "x"});
  ASSERT_THAT(store().ApplyUsage(batch), IsOk());
  EXPECT_EQ(store().GetAgent(a.id)->last_used_at, kT0 + 50);
  UsageBatch earlier;
  earlier.agents.push_back({a.id, kT0 + 10});
  ASSERT_THAT(store().ApplyUsage(earlier), IsOk());
  EXPECT_EQ(store().GetAgent(a.id)->last_used_at, kT0 + 50);  // the later time stays
  EXPECT_THAT(store().ApplyUsage(UsageBatch{}), IsOk());
}

TEST_P(StoreConformanceTest, ConcurrentUsageFlushesAddUp) {
  constexpr int kThreads = 8;
  constexpr int kFlushes = 25;
  const Vault v = AddVault("v");
  auto a = Put(v.id, "a");
  auto b = Put(v.id, "b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  const Agent agent = AddAgent("worker");
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kFlushes; ++i) {
        UsageBatch batch;
        // Opposite orders in alternate threads: the store must not deadlock.
        if (t % 2 == 0) {
          batch.reads.push_back({a->secret_id, 1, 1, kT0 + i, "r"});
          batch.reads.push_back({b->secret_id, 1, 2, kT0 + i, "r"});
        } else {
          batch.reads.push_back({b->secret_id, 1, 2, kT0 + i, "r"});
          batch.reads.push_back({a->secret_id, 1, 1, kT0 + i, "r"});
        }
        batch.agents.push_back({agent.id, kT0 + t * 100 + i});
        if (!store().ApplyUsage(batch).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Latest(store(), v.id, "a").access_count, kThreads * kFlushes);
  EXPECT_EQ(Latest(store(), v.id, "b").access_count, 2 * kThreads * kFlushes);
  EXPECT_EQ(store().GetAgent(agent.id)->last_used_at, kT0 + (kThreads - 1) * 100 + kFlushes - 1);
}

}  // namespace
}  // namespace coffer::store_testing
