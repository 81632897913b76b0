// Conformance: rotation schedules (set, read, remove, due listing), claims of a due time taken
// exactly once (with or without a version written, under concurrency), scheduled disables, and
// expiry events announced exactly once.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

using ::testing::SizeIs;

constexpr UnixMicros kMinute = 60'000'000;

TEST_P(StoreConformanceTest, ScheduleIsSetReadReplacedAndRemoved) {
  const Vault v = AddVault("v");
  EXPECT_THAT(store().SetSecretSchedule(v.id, "missing", "{}", kT0, nullptr),
              StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(Put(v.id, "db"), IsOk());
  auto none = store().GetSecretSchedule(v.id, "db");
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());

  AuditEvent event = MakeEvent("secret.schedule", v.id);
  auto set = store().SetSecretSchedule(v.id, "db", R"({"interval":"1h"})", kT0 + kMinute, &event);
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->path, "db");
  EXPECT_EQ(set->vault_id, v.id);
  EXPECT_EQ(set->next_rotation_at, kT0 + kMinute);
  ASSERT_THAT(
      store().SetSecretSchedule(v.id, "db", R"({"interval":"2h"})", kT0 + 2 * kMinute, nullptr),
      IsOk());
  auto got = store().GetSecretSchedule(v.id, "db");
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->policy_json, R"({"interval":"2h"})");
  EXPECT_EQ((*got)->next_rotation_at, kT0 + 2 * kMinute);
  EXPECT_EQ((*got)->disable_version, 0);

  ASSERT_THAT(store().DeleteSecretSchedule(v.id, "db", nullptr), IsOk());
  ASSERT_THAT(store().DeleteSecretSchedule(v.id, "db", nullptr), IsOk());  // idempotent
  EXPECT_THAT(store().DeleteSecretSchedule(v.id, "missing", nullptr),
              StatusIs(StatusCode::kNotFound));
  got = store().GetSecretSchedule(v.id, "db");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->has_value());
  const std::vector<AuditEvent> audit = AllAudit();
  ASSERT_THAT(audit, SizeIs(1));
  EXPECT_EQ(audit[0].action, "secret.schedule");
}

TEST_P(StoreConformanceTest, DeletingTheSecretRemovesItsSchedule) {
  const Vault v = AddVault("v");
  ASSERT_THAT(Put(v.id, "db"), IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "db", "{}", kT0, nullptr), IsOk());
  ASSERT_THAT(store().DeleteSecret(v.id, "db", nullptr), IsOk());
  ASSERT_THAT(Put(v.id, "db"), IsOk());
  auto got = store().GetSecretSchedule(v.id, "db");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->has_value());
  auto due = store().ListDueSchedules(kT0 + kMinute, 10);
  ASSERT_THAT(due, IsOk());
  EXPECT_THAT(*due, SizeIs(0));
}

TEST_P(StoreConformanceTest, DueSchedulesAreListedEarliestFirst) {
  const Vault v = AddVault("v");
  for (const char* path : {"a", "b", "c"}) {
    ASSERT_THAT(Put(v.id, path), IsOk());
  }
  ASSERT_THAT(store().SetSecretSchedule(v.id, "a", "{}", kT0 + 2 * kMinute, nullptr), IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "b", "{}", kT0 + kMinute, nullptr), IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "c", "{}", kT0 + 9 * kMinute, nullptr), IsOk());
  auto due = store().ListDueSchedules(kT0 + 2 * kMinute, 10);
  ASSERT_THAT(due, IsOk());
  ASSERT_THAT(*due, SizeIs(2));
  EXPECT_EQ((*due)[0].path, "b");
  EXPECT_EQ((*due)[1].path, "a");
  due = store().ListDueSchedules(kT0 + 2 * kMinute, 1);
  ASSERT_THAT(due, IsOk());
  ASSERT_THAT(*due, SizeIs(1));
  EXPECT_EQ((*due)[0].path, "b");
}

TEST_P(StoreConformanceTest, AClaimedRotationWritesOnceAndMarksThePreviousForDisabling) {
  const Vault v = AddVault("v");
  auto first = Put(v.id, "db");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "db", "{}", kT0, nullptr), IsOk());

  NewSecretVersion n = NewVersion(v.id, "db");
  n.schedule_claim = ScheduleClaim{first->secret_id, kT0, kT0 + kMinute, kT0 + 5 * kMinute};
  AuditEvent event = MakeEvent("secret.rotate", v.id, "rotation-scheduler");
  auto rotated = store().PutSecretVersion(n, FakeSeal("new"), &event);
  ASSERT_THAT(rotated, IsOk());
  EXPECT_EQ(rotated->version, 2);
  // The same due time again (another server, a retry): refused, nothing written.
  EXPECT_THAT(store().PutSecretVersion(n, FakeSeal("again"), nullptr),
              StatusIs(StatusCode::kAborted));
  auto versions = store().ListSecretVersions(v.id, "db");
  ASSERT_THAT(versions, IsOk());
  EXPECT_THAT(*versions, SizeIs(2));

  auto sched = store().GetSecretSchedule(v.id, "db");
  ASSERT_THAT(sched, IsOk());
  ASSERT_TRUE(sched->has_value());
  EXPECT_EQ((*sched)->next_rotation_at, kT0 + kMinute);
  EXPECT_EQ((*sched)->disable_version, 1);
  EXPECT_EQ((*sched)->disable_at, kT0 + 5 * kMinute);

  // The pending disable is due at its time, and done once.
  auto due = store().ListDueSchedules(kT0 + 5 * kMinute - 1, 10);
  ASSERT_THAT(due, IsOk());
  EXPECT_THAT(*due, SizeIs(1));  // the next rotation (kT0 + 1 min) is due
  ASSERT_THAT(store().DisableScheduledVersion(first->secret_id, 1, kT0 + 5 * kMinute,
                                              kT0 + 6 * kMinute, nullptr),
              IsOk());
  EXPECT_THAT(store().DisableScheduledVersion(first->secret_id, 1, kT0 + 5 * kMinute,
                                              kT0 + 7 * kMinute, nullptr),
              StatusIs(StatusCode::kAborted));
  auto old = store().GetSecretVersion(v.id, "db", VersionSelector::Exact(1));
  ASSERT_THAT(old, IsOk());
  EXPECT_EQ(old->disabled_at, kT0 + 6 * kMinute);
  const std::vector<AuditEvent> audit = AllAudit();
  ASSERT_THAT(audit, SizeIs(1));
  EXPECT_EQ(audit[0].version, 2);
}

TEST_P(StoreConformanceTest, AClaimOfAnotherSecretOrTimeWritesNothing) {
  const Vault v = AddVault("v");
  auto a = Put(v.id, "a");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(Put(v.id, "b"), IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "a", "{}", kT0, nullptr), IsOk());
  NewSecretVersion n = NewVersion(v.id, "b");
  n.schedule_claim = ScheduleClaim{a->secret_id, kT0, kT0 + kMinute, std::nullopt};
  EXPECT_THAT(store().PutSecretVersion(n, FakeSeal("x"), nullptr), StatusIs(StatusCode::kAborted));
  n = NewVersion(v.id, "a");
  n.schedule_claim = ScheduleClaim{a->secret_id, kT0 - 1, kT0 + kMinute, std::nullopt};
  EXPECT_THAT(store().PutSecretVersion(n, FakeSeal("x"), nullptr), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().AdvanceSecretSchedule(*n.schedule_claim, nullptr),
              StatusIs(StatusCode::kAborted));
  n.schedule_claim->due_at = kT0;
  AuditEvent event = MakeEvent("secret.rotation_due", v.id, "rotation-scheduler");
  ASSERT_THAT(store().AdvanceSecretSchedule(*n.schedule_claim, &event), IsOk());
  EXPECT_THAT(store().AdvanceSecretSchedule(*n.schedule_claim, nullptr),
              StatusIs(StatusCode::kAborted));
  EXPECT_THAT(AllAudit(), SizeIs(1));
  auto versions = store().ListSecretVersions(v.id, "a");
  ASSERT_THAT(versions, IsOk());
  EXPECT_THAT(*versions, SizeIs(1));
}

TEST_P(StoreConformanceTest, ConcurrentClaimsOfOneDueTimeWriteExactlyOneVersion) {
  const Vault v = AddVault("v");
  auto first = Put(v.id, "db");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "db", "{}", kT0, nullptr), IsOk());
  constexpr int kThreads = 8;
  std::atomic<int> won = 0;
  std::atomic<int> other_errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      NewSecretVersion n = NewVersion(v.id, "db");
      n.schedule_claim = ScheduleClaim{first->secret_id, kT0, kT0 + kMinute, std::nullopt};
      AuditEvent event = MakeEvent("secret.rotate", v.id, "rotation-scheduler");
      auto r = store().PutSecretVersion(n, FakeSeal("x"), &event);
      if (r.has_value()) {
        ++won;
      } else if (r.error().code() != StatusCode::kAborted) {
        ++other_errors;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(other_errors.load(), 0);
  auto versions = store().ListSecretVersions(v.id, "db");
  ASSERT_THAT(versions, IsOk());
  EXPECT_THAT(*versions, SizeIs(2));
  EXPECT_THAT(AllAudit(), SizeIs(1));
}

TEST_P(StoreConformanceTest, TwoStoresOnOneDatabaseClaimEachDueTimeOnce) {
  if (GetParam().name != "Postgres") {
    GTEST_SKIP() << "only PostgreSQL is shared by several store processes";
  }
  std::unique_ptr<Store> other = GetParam().factory(scratch_dir());  // a second server
  ASSERT_NE(other, nullptr);
  const Vault v = AddVault("v");
  auto first = Put(v.id, "db");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(store().SetSecretSchedule(v.id, "db", "{}", kT0, nullptr), IsOk());
  constexpr int kRounds = 10;
  std::atomic<int> won = 0;
  std::atomic<int> other_errors = 0;
  for (int round = 0; round < kRounds; ++round) {
    const UnixMicros due = kT0 + round * kMinute;
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        Store& s = t % 2 == 0 ? store() : *other;
        NewSecretVersion n = NewVersion(v.id, "db");
        n.schedule_claim = ScheduleClaim{first->secret_id, due, due + kMinute, std::nullopt};
        AuditEvent event = MakeEvent("secret.rotate", v.id, "rotation-scheduler");
        auto r = s.PutSecretVersion(n, FakeSeal("x"), &event);
        if (r.has_value()) {
          ++won;
        } else if (r.error().code() != StatusCode::kAborted) {
          ++other_errors;
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
  }
  EXPECT_EQ(won.load(), kRounds);
  EXPECT_EQ(other_errors.load(), 0);
  auto versions = store().ListSecretVersions(v.id, "db");
  ASSERT_THAT(versions, IsOk());
  EXPECT_THAT(*versions, SizeIs(kRounds + 1));
  const std::vector<AuditEvent> audit = AllAudit();
  EXPECT_THAT(audit, SizeIs(kRounds));
  EXPECT_TRUE(ChainIsIntact(audit));
}

TEST_P(StoreConformanceTest, ExpiryEventsAreListedUntilAnnouncedOnce) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "db");
  n.expires_at = kT0 + 10 * kMinute;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(Put(v.id, "forever"), IsOk());

  auto early = store().ListUnannouncedExpiries(ExpiryEvent::kExpiring, kT0 + 9 * kMinute, 10);
  ASSERT_THAT(early, IsOk());
  EXPECT_THAT(*early, SizeIs(0));
  auto soon = store().ListUnannouncedExpiries(ExpiryEvent::kExpiring, kT0 + 10 * kMinute, 10);
  ASSERT_THAT(soon, IsOk());
  ASSERT_THAT(*soon, SizeIs(1));
  EXPECT_EQ((*soon)[0].path, "db");
  EXPECT_EQ((*soon)[0].vault_id, v.id);
  EXPECT_EQ((*soon)[0].version, 1);
  EXPECT_EQ((*soon)[0].expires_at, kT0 + 10 * kMinute);

  AuditEvent event = MakeEvent("secret.expiring", v.id, "rotation-scheduler");
  ASSERT_THAT(store().MarkExpiryAnnounced(put->secret_id, 1, ExpiryEvent::kExpiring, &event),
              IsOk());
  EXPECT_THAT(store().MarkExpiryAnnounced(put->secret_id, 1, ExpiryEvent::kExpiring, nullptr),
              StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().MarkExpiryAnnounced(put->secret_id, 9, ExpiryEvent::kExpiring, nullptr),
              StatusIs(StatusCode::kNotFound));
  soon = store().ListUnannouncedExpiries(ExpiryEvent::kExpiring, kT0 + 10 * kMinute, 10);
  ASSERT_THAT(soon, IsOk());
  EXPECT_THAT(*soon, SizeIs(0));
  // The other event of the same version is still to come.
  auto expired = store().ListUnannouncedExpiries(ExpiryEvent::kExpired, kT0 + 10 * kMinute, 10);
  ASSERT_THAT(expired, IsOk());
  ASSERT_THAT(*expired, SizeIs(1));
  ASSERT_THAT(store().MarkExpiryAnnounced(put->secret_id, 1, ExpiryEvent::kExpired, nullptr),
              IsOk());
  expired = store().ListUnannouncedExpiries(ExpiryEvent::kExpired, kT0 + 10 * kMinute, 10);
  ASSERT_THAT(expired, IsOk());
  EXPECT_THAT(*expired, SizeIs(0));
  EXPECT_THAT(AllAudit(), SizeIs(1));
}

TEST_P(StoreConformanceTest, DisabledVersionsHaveNoExpiryEvents) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "db");
  n.expires_at = kT0 + kMinute;
  ASSERT_THAT(store().PutSecretVersion(n, FakeSeal("x"), nullptr), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "db", 1, kT0, nullptr), IsOk());
  auto expired = store().ListUnannouncedExpiries(ExpiryEvent::kExpired, kT0 + kMinute, 10);
  ASSERT_THAT(expired, IsOk());
  EXPECT_THAT(*expired, SizeIs(0));
}

}  // namespace
}  // namespace coffer::store_testing
