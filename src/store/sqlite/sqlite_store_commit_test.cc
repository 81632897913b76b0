// SqliteStore's single writer: group commit (batches, their bounds, a failing write among
// others), readers that do not wait for it, and the audit chain head it caches across commits.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_test.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

// A seal that blocks the writer thread (and with it the open batch transaction) until released.
class WriterBlocker {
 public:
  SealFunction Seal() {
    return [this](const SecretVersion& h) -> StatusOr<std::vector<uint8_t>> {
      entered_.set_value();
      release_.get_future().wait();
      return std::vector<uint8_t>{1};
    };
  }
  void WaitUntilBlocked() { entered_.get_future().wait(); }
  void Release() { release_.set_value(); }

 private:
  std::promise<void> entered_;
  std::promise<void> release_;
};

// --- group commit ------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, ConcurrentWritersShareCommits) {
  constexpr int kThreads = 16;
  constexpr int kPutsPerThread = 50;
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  const SqliteStoreStats before = store->Stats();

  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPutsPerThread; ++i) {
        const std::string path = "t" + std::to_string(t) + "/" + std::to_string(i);
        if (!store->PutSecretVersion(NewVersion(v, path), FakeSeal("x"), nullptr).has_value()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ASSERT_EQ(failures.load(), 0);
  const SqliteStoreStats after = store->Stats();
  const uint64_t ops = after.write_ops - before.write_ops;
  const uint64_t commits = after.commits - before.commits;
  EXPECT_EQ(ops, static_cast<uint64_t>(kThreads * kPutsPerThread));
  EXPECT_LE(commits * 2, ops) << "expected at least 2 writes per commit on average";
  ::testing::Test::RecordProperty("ops_per_commit", std::to_string(double(ops) / commits));
  std::printf(
      "[ group commit ] %d writers: %llu ops in %llu commits (%.1f ops/commit, largest "
      "batch %llu)\n",
      kThreads, static_cast<unsigned long long>(ops), static_cast<unsigned long long>(commits),
      double(ops) / double(commits), static_cast<unsigned long long>(after.largest_batch));
}

TEST_F(SqliteStoreTest, QueuedWritesCommitTogetherAndAFailingOneSpoilsNothing) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  NewSecretVersion limited = NewVersion(v, "limited");
  limited.max_access_count = 1;
  auto put = store->PutSecretVersion(limited, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(store->ConsumeSecretAccess(put->secret_id, 1, nullptr), IsOk());
  const SqliteStoreStats before = store->Stats();

  WriterBlocker blocker;
  std::thread first([&] {
    EXPECT_THAT(store->PutSecretVersion(NewVersion(v, "first"), blocker.Seal(), nullptr), IsOk());
  });
  blocker.WaitUntilBlocked();

  // Six writes queue up behind the blocked one; three of them fail.
  std::vector<std::thread> queued;
  for (const std::string path : {"ok/1", "ok/2", "ok/3"}) {
    queued.emplace_back([&, path] {
      EXPECT_THAT(store->PutSecretVersion(NewVersion(v, path), FakeSeal("x"), nullptr), IsOk());
    });
  }
  queued.emplace_back([&] {
    EXPECT_THAT(store->InsertVault({NewUuid(), v.name, "", v.owner_id, kT0}, nullptr),
                StatusIs(StatusCode::kAlreadyExists));
  });
  queued.emplace_back([&] {
    auto failed = store->PutSecretVersion(
        NewVersion(v, "never"),
        [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
          return Err(InternalError("seal failed"));
        },
        nullptr);
    EXPECT_THAT(failed, StatusIs(StatusCode::kInternal));
  });
  queued.emplace_back([&] {
    EXPECT_THAT(store->ConsumeSecretAccess(put->secret_id, 1, nullptr),
                StatusIs(StatusCode::kGone));
  });
  WaitForPending(*store, 6);
  blocker.Release();
  first.join();
  for (std::thread& t : queued) {
    t.join();
  }

  const SqliteStoreStats after = store->Stats();
  EXPECT_EQ(after.write_ops - before.write_ops, 7u);
  EXPECT_EQ(after.commits - before.commits, 2u) << "the blocked write, then the six together";
  EXPECT_GE(after.largest_batch, 6u);
  auto page = store->ListSecrets(v.id, "", "", 100);
  ASSERT_THAT(page, IsOk());
  std::vector<std::string> paths;
  for (const SecretSummary& s : page->secrets) {
    paths.push_back(s.path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"first", "limited", "ok/1", "ok/2", "ok/3"}));
}

TEST_F(SqliteStoreTest, ABatchHoldsAtMostMaxBatchWrites) {
  SqliteStoreOptions options;
  options.max_batch = 2;
  auto store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  const SqliteStoreStats before = store->Stats();

  WriterBlocker blocker;
  std::thread first([&] {
    EXPECT_THAT(store->PutSecretVersion(NewVersion(v, "first"), blocker.Seal(), nullptr), IsOk());
  });
  blocker.WaitUntilBlocked();
  std::vector<std::thread> queued;
  for (int i = 0; i < 5; ++i) {
    queued.emplace_back([&, i] {
      EXPECT_THAT(
          store->PutSecretVersion(NewVersion(v, "q" + std::to_string(i)), FakeSeal("x"), nullptr),
          IsOk());
    });
  }
  WaitForPending(*store, 5);
  blocker.Release();
  first.join();
  for (std::thread& t : queued) {
    t.join();
  }
  const SqliteStoreStats after = store->Stats();
  EXPECT_EQ(after.commits - before.commits, 4u) << "1, then 2 + 2 + 1";
  EXPECT_EQ(after.largest_batch, 2u);
}

TEST_F(SqliteStoreTest, ReadsDoNotWaitForTheWriter) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  ASSERT_THAT(store->PutSecretVersion(NewVersion(v, "s"), FakeSeal("committed"), nullptr), IsOk());

  WriterBlocker blocker;
  std::thread writer([&] {
    EXPECT_THAT(store->PutSecretVersion(NewVersion(v, "s"), blocker.Seal(), nullptr), IsOk());
  });
  blocker.WaitUntilBlocked();
  // The writer sits inside an open write transaction; readers still see the last commit.
  auto read = std::async(std::launch::async, [&] {
    return store->GetSecretVersion(v.id, "s", VersionSelector::LatestAny());
  });
  const bool finished = read.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  blocker.Release();
  writer.join();
  ASSERT_TRUE(finished) << "a read waited for the writer";
  auto got = read.get();
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->version, 1);
}

// --- the audit chain's cached head -------------------------------------------------------------

// An audit event with request id 'poison' passes its INSERT but fails the COMMIT (a deferred
// foreign key it leaves dangling), the way a disk error at commit time would.
constexpr std::string_view kPoisonCommitSql = R"sql(
  CREATE TABLE poison_parent (id INTEGER PRIMARY KEY);
  CREATE TABLE poison (id INTEGER PRIMARY KEY,
                       parent INTEGER REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED);
  CREATE TRIGGER poison_commit AFTER INSERT ON audit_events WHEN NEW.request_id = 'poison'
  BEGIN
    INSERT INTO poison (parent) VALUES (42);
  END;
)sql";

AuditEvent Poisoned() {
  AuditEvent e = MakeEvent("poisoned");
  e.request_id = "poison";
  return e;
}

TEST_F(SqliteStoreTest, AFailedCommitPutsTheCachedChainHeadBack) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(MakeEvent("one")), IsOk());
  ASSERT_THAT(store->AppendAudit(MakeEvent("two")), IsOk());  // the head is cached at seq 2
  RawExec(path_, std::string(kPoisonCommitSql));

  // Alone in its batch: the COMMIT fails, the event is gone.
  EXPECT_THAT(store->AppendAudit(Poisoned()), StatusIs(StatusCode::kUnavailable));
  auto three = store->AppendAudit(MakeEvent("three"));
  ASSERT_THAT(three, IsOk());
  EXPECT_EQ(three->seq, 3) << "the rolled-back seq 3 is handed out again";

  // In a batch with others: every event of the batch is gone, mutations' included.
  const Vault v = AddVault(*store);
  WriterBlocker blocker;
  AuditEvent blocked_event = MakeEvent("blocked.write");
  std::thread first([&] {
    EXPECT_THAT(store->PutSecretVersion(NewVersion(v, "first"), blocker.Seal(), &blocked_event),
                IsOk());
  });
  blocker.WaitUntilBlocked();
  std::vector<std::thread> queued;
  queued.emplace_back([&] {
    EXPECT_THAT(store->AppendAudit(MakeEvent("lost")), StatusIs(StatusCode::kUnavailable));
  });
  queued.emplace_back(
      [&] { EXPECT_THAT(store->AppendAudit(Poisoned()), StatusIs(StatusCode::kUnavailable)); });
  queued.emplace_back([&] {
    const AuditEvent e = MakeEvent("lost.write");
    EXPECT_THAT(store->PutSecretVersion(NewVersion(v, "lost"), FakeSeal("x"), &e),
                StatusIs(StatusCode::kUnavailable));
  });
  WaitForPending(*store, 3);
  blocker.Release();
  first.join();
  for (std::thread& t : queued) {
    t.join();
  }

  auto after = store->AppendAudit(MakeEvent("after"));
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->seq, 5) << "3, then the blocked write's 4; the failed batch's are reused";
  const std::vector<AuditEvent> events = AllAudit(*store);
  std::vector<std::string> actions;
  for (const AuditEvent& e : events) {
    actions.push_back(e.action);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"one", "two", "three", "blocked.write", "after"}));
  EXPECT_TRUE(ChainIsIntact(events));
  EXPECT_THAT(store->GetSecretVersion(v.id, "lost", {}), StatusIs(StatusCode::kNotFound));
}

TEST_F(SqliteStoreTest, AnEventThatCannotBeWrittenFailsItsMutation) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  ASSERT_THAT(store->AppendAudit(MakeEvent("one")), IsOk());
  RawExec(path_,
          "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.request_id = 'refuse'"
          " BEGIN SELECT RAISE(ABORT, 'refused'); END");
  AuditEvent refused = MakeEvent("secret.write");
  refused.request_id = "refuse";
  EXPECT_FALSE(store->PutSecretVersion(NewVersion(v, "s"), FakeSeal("x"), &refused).has_value());
  EXPECT_THAT(store->GetSecretVersion(v.id, "s", {}), StatusIs(StatusCode::kNotFound))
      << "fail closed: no event, no write";
  EXPECT_FALSE(store->DeleteVault(v.id, &refused).ok());
  EXPECT_THAT(store->GetVault(v.id), IsOk());

  auto two = store->AppendAudit(MakeEvent("two"));
  ASSERT_THAT(two, IsOk());
  EXPECT_EQ(two->seq, 2);
  EXPECT_TRUE(ChainIsIntact(AllAudit(*store)));
}

TEST_F(SqliteStoreTest, EventsAppendedByAnotherProcessAreChainedOnto) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto one = store->AppendAudit(MakeEvent("one"));  // caches the head at seq 1
  ASSERT_THAT(one, IsOk());
  // Another process (another Coffer on the same file) appends seq 2.
  AuditEvent two = MakeEvent("from.elsewhere");
  two.seq = 2;
  two.prev_hash = one->hash;
  two.hash = AuditChainHash(two.prev_hash, two);
  RawExec(path_, "INSERT INTO audit_events VALUES (2, " + std::to_string(two.at) + ", '" +
                     two.request_id + "', 'user', 'user-1', 'from.elsewhere', '', '', 0, '" +
                     two.client_ip + "', 'success', 'OK', X'" + HexEncode(two.prev_hash) + "', X'" +
                     HexEncode(two.hash) + "', 0, 0, '')");

  auto three = store->AppendAudit(MakeEvent("three"));
  ASSERT_THAT(three, IsOk());
  EXPECT_EQ(three->seq, 3);
  EXPECT_EQ(three->prev_hash, two.hash);
  EXPECT_TRUE(ChainIsIntact(AllAudit(*store)));
}

TEST_F(SqliteStoreTest, AuditRowsAreAppendOnly) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(MakeEvent("one")), IsOk());
  EXPECT_NE(RawExecCode(path_, "UPDATE audit_events SET outcome = 'denied'"), SQLITE_OK);
  EXPECT_NE(RawExecCode(path_, "DELETE FROM audit_events"), SQLITE_OK);
  EXPECT_EQ(RawQuery(path_, "SELECT seq, outcome FROM audit_events"),
            std::vector<std::string>{"1|success"});
}

TEST_F(SqliteStoreTest, RateLimitHitsOutsideTheWindowAreDeleted) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  constexpr UnixMicros kWindow = 60 * kMicrosPerSecond;
  for (int i = 0; i < 50; ++i) {
    auto d = store->HitRateLimit("k", kWindow, 3, kT0 + i * kWindow / 2);
    ASSERT_THAT(d, IsOk());
    EXPECT_TRUE(d->allowed) << i;
  }
  ASSERT_THAT(store->HitRateLimit("other", kWindow, 3, kT0), IsOk());
  store.reset();
  EXPECT_EQ(RawQuery(path_, "SELECT key, count(*) FROM rate_limit_hits GROUP BY key ORDER BY key"),
            (std::vector<std::string>{"k|2", "other|1"}));
}

}  // namespace
}  // namespace coffer::store_testing
