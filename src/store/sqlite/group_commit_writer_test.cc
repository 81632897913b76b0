// GroupCommitWriter on its own, with operations no Store method would run: a commit that fails,
// a transaction SQLite rolls back by itself, an operation that throws.
#include "store/sqlite/group_commit_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>
#include <vector>

#include "common/monotonic_clock.h"
#include "common/non_blocking.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer {
namespace {

// parent/child with a DEFERRED foreign key: a dangling child is accepted by its statement and
// refused by COMMIT, which is how these tests make a commit fail.
constexpr std::string_view kSchema = R"sql(
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = FULL;
  PRAGMA foreign_keys = ON;
  CREATE TABLE parent (id INTEGER PRIMARY KEY) STRICT;
  CREATE TABLE child (id INTEGER PRIMARY KEY,
                      parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED,
                      payload BLOB) STRICT;
)sql";

WriteOp Insert(std::string table, int64_t id, int64_t parent_id = 0, size_t payload = 0) {
  return [=](SqliteConnection& db) -> Status {
    const std::string sql = table == "parent"
                                ? "INSERT INTO parent (id) VALUES (?1)"
                                : "INSERT INTO child (id, parent_id, payload) VALUES (?1, ?2, ?3)";
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(sql));
    st.BindInt(1, id);
    if (table != "parent") {
      st.BindInt(2, parent_id);
      st.BindBlob(3, std::vector<uint8_t>(payload, 0x5a));
    }
    return st.Run();
  };
}

class GroupCommitWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "coffer-writer-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    writer_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Starts a writer on a fresh database; `extra_sql` runs on its connection first. The writer
  // counts its rollbacks in rollbacks_.
  void Start(std::string_view extra_sql = "",
             std::chrono::milliseconds sync_interval = GroupCommitWriter::kDefaultSyncInterval,
             const MonotonicClock& clock = DefaultMonotonicClock()) {
    auto db = SqliteConnection::Open(dir_ + "/w.db", SqliteConnection::Mode::kReadWrite, 1000);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec(kSchema), IsOk());
    if (!extra_sql.empty()) {
      ASSERT_THAT((*db)->Exec(extra_sql), IsOk());
    }
    auto writer = GroupCommitWriter::Start(
        std::move(db).value(), 64, [this] { ++rollbacks_; }, sync_interval, clock);
    ASSERT_THAT(writer, IsOk());
    writer_ = std::move(writer).value();
  }

  // The writer, busy with an operation of its own until Release(); what is queued meanwhile
  // runs as one batch afterwards.
  class Hold {
   public:
    explicit Hold(GroupCommitWriter& writer, Durability durability = Durability::kSynced) {
      std::promise<void> entered;
      result_ =
          std::async(std::launch::async, [&writer, &entered, durability, released = released_] {
            return writer.Run(
                [&entered, released](SqliteConnection&) {
                  entered.set_value();
                  released.wait();
                  return OkStatus();
                },
                durability);
          });
      entered.get_future().wait();
    }
    // Lets the writer go on; returns the holding operation's result.
    Status Release() {
      release_.set_value();
      return result_.get();
    }

   private:
    std::promise<void> release_;
    std::shared_future<void> released_ = release_.get_future().share();
    std::future<Status> result_;
  };

  // Runs `ops` as one batch, in order.
  std::vector<Status> RunAsOneBatch(const std::vector<WriteOp>& ops) {
    Hold hold(*writer_);
    // One at a time, so the queue holds them in order.
    std::vector<std::future<Status>> results;
    for (const WriteOp& op : ops) {
      results.push_back(std::async(std::launch::async, [&] { return writer_->Run(op); }));
      WaitForPending(results.size());
    }
    EXPECT_THAT(hold.Release(), IsOk());
    std::vector<Status> out;
    for (auto& r : results) {
      out.push_back(r.get());
    }
    return out;
  }

  void WaitForPending(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (writer_->Stats().pending < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(writer_->Stats().pending, n);
  }

  // Ids in `table`, read through the writer.
  std::vector<int64_t> Ids(const std::string& table) {
    std::vector<int64_t> ids;
    const Status ran = writer_->Run([&](SqliteConnection& db) -> Status {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT id FROM " + table + " ORDER BY id"));
      while (true) {
        ASSIGN_OR_RETURN(const bool row, st.Step());
        if (!row) {
          return OkStatus();
        }
        ids.push_back(st.ColumnInt(0));
      }
    });
    EXPECT_THAT(ran, IsOk());
    return ids;
  }

  std::string dir_;
  std::atomic<int> rollbacks_ = 0;  // written by the writer thread
  FakeMonotonicClock clock_;        // for a writer started on it; outlives the writer
  std::unique_ptr<GroupCommitWriter> writer_;
};

TEST_F(GroupCommitWriterTest, AFailedCommitFailsEveryWriteThatWasInIt) {
  Start();
  const uint64_t commits_before = writer_->Stats().commits;
  const std::vector<Status> results = RunAsOneBatch({
      Insert("parent", 1),
      Insert("child", 10, /*parent_id=*/99),  // passes its statement, fails the COMMIT
      [](SqliteConnection&) { return NotFoundError("its own error"); },
  });
  EXPECT_THAT(results[0], StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(results[1], StatusIs(StatusCode::kUnavailable));
  EXPECT_EQ(results[2], NotFoundError("its own error")) << "an op that failed keeps its error";
  EXPECT_EQ(writer_->Stats().commits - commits_before, 1u) << "only the blocker's batch";
  EXPECT_EQ(rollbacks_.load(), 1) << "the listener hears of the rolled-back batch";

  EXPECT_TRUE(Ids("parent").empty()) << "nothing of the failed batch was kept";
  EXPECT_TRUE(Ids("child").empty());
  // The writer carries on.
  EXPECT_THAT(writer_->Run(Insert("parent", 2)), IsOk());
  EXPECT_EQ(Ids("parent"), std::vector<int64_t>{2});
}

TEST_F(GroupCommitWriterTest, TheRollbackListenerHearsOnlyOfWholeTransactions) {
  Start();
  // A committed batch with an op that rolled back to its own savepoint: no whole rollback.
  const std::vector<Status> results = RunAsOneBatch({
      Insert("parent", 1),
      [](SqliteConnection&) { return NotFoundError("its own error"); },
  });
  EXPECT_THAT(results[0], IsOk());
  EXPECT_EQ(rollbacks_.load(), 0);
  // A batch in which every op failed is rolled back rather than committed.
  EXPECT_THAT(writer_->Run([](SqliteConnection&) { return NotFoundError("no"); }),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(rollbacks_.load(), 1);
  EXPECT_THAT(writer_->Run(Insert("parent", 2)), IsOk());
  EXPECT_EQ(rollbacks_.load(), 1);
}

TEST_F(GroupCommitWriterTest, AThrowingOperationFailsAloneAndTheWriterSurvives) {
  Start();
  const std::vector<Status> results = RunAsOneBatch({
      Insert("parent", 1),
      [](SqliteConnection& db) -> Status {
        (void)Insert("parent", 2)(db);  // a change for the throw to undo
        throw std::runtime_error("boom");
      },
      Insert("parent", 3),
  });
  EXPECT_THAT(results[0], IsOk());
  EXPECT_THAT(results[1], StatusIs(StatusCode::kInternal));
  EXPECT_EQ(results[1].message().find("boom"), std::string::npos);
  EXPECT_THAT(results[2], IsOk());
  EXPECT_EQ(Ids("parent"), (std::vector<int64_t>{1, 3})) << "the thrower's insert was undone";
}

TEST_F(GroupCommitWriterTest, AFullDatabaseNeverReportsALostWriteAsDone) {
  // A database that cannot grow: one 1 MiB payload is too much. SQLite may then roll back the
  // statement or the whole transaction (3.40 does the latter); either way, OK must mean kept and
  // failed mean not kept.
  Start("PRAGMA max_page_count = 64;");
  const std::vector<Status> results = RunAsOneBatch({
      Insert("parent", 1),
      Insert("parent", 2),
      Insert("child", 3, 1, /*payload=*/1 << 20),
      Insert("parent", 4),
  });
  EXPECT_THAT(results[2], StatusIs(StatusCode::kUnavailable)) << "SQLITE_FULL";
  const std::vector<int64_t> kept = Ids("parent");
  for (const int64_t id : {1, 2, 4}) {
    const bool ok = results[id == 4 ? 3 : id - 1].ok();
    const bool present = std::find(kept.begin(), kept.end(), id) != kept.end();
    EXPECT_EQ(ok, present) << "parent " << id;
  }
  EXPECT_TRUE(Ids("child").empty());
  EXPECT_THAT(results[3], IsOk()) << "a write after the failure gets its own transaction";
}

TEST_F(GroupCommitWriterTest, DestructorCheckpointsTheWal) {
  Start();
  for (int64_t id = 1; id <= 5; ++id) {
    ASSERT_THAT(writer_->Run(Insert("parent", id)), IsOk());
  }
  writer_.reset();
  const std::string wal = dir_ + "/w.db-wal";
  EXPECT_TRUE(!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0);
  auto db = SqliteConnection::Open(dir_ + "/w.db", SqliteConnection::Mode::kReadOnly, 1000);
  ASSERT_THAT(db, IsOk());
  auto st = (*db)->Prepare("SELECT count(*) FROM parent");
  ASSERT_THAT(st, IsOk());
  ASSERT_THAT(st->Step(), IsOk());
  EXPECT_EQ(st->ColumnInt(0), 5);
}

}  // namespace
}  // namespace coffer

namespace coffer {
namespace {

// Reads PRAGMA synchronous on the writer's connection (0 OFF, 1 NORMAL, 2 FULL).
int64_t Synchronous(GroupCommitWriter& writer) {
  int64_t level = -1;
  EXPECT_THAT(writer.Run(
                  [&](SqliteConnection& db) -> Status {
                    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("PRAGMA synchronous"));
                    ASSIGN_OR_RETURN(const bool row, st.Step());
                    level = row ? st.ColumnInt(0) : -1;
                    return OkStatus();
                  },
                  Durability::kWritten),
              IsOk());
  return level;
}

TEST_F(GroupCommitWriterTest, WrittenOnlyBatchesCommitWithoutAnFsyncAndAreSyncedWithinTheInterval) {
  Start("", std::chrono::milliseconds(1000), clock_);
  const GroupCommitStats before = writer_->Stats();
  ASSERT_THAT(writer_->Run(Insert("parent", 1), Durability::kWritten), IsOk());
  EXPECT_EQ(Synchronous(*writer_), 1) << "a batch of kWritten ops commits with synchronous=NORMAL";
  const GroupCommitStats after = writer_->Stats();
  EXPECT_EQ(after.commits - before.commits, 2u);
  EXPECT_EQ(after.syncs, before.syncs) << "no fsync of its own";
  // The writer waits for the interval, which began with the first commit: short of it, nothing
  // is synced.
  ASSERT_TRUE(clock_.AwaitWaiting(1));
  clock_.Advance(std::chrono::milliseconds(999));
  EXPECT_EQ(writer_->Stats().syncs, before.syncs);
  // Reaching it syncs the WAL, once; the writer then waits again.
  const uint64_t waits = clock_.waits();
  clock_.Advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(clock_.AwaitWaits(waits + 1));
  EXPECT_EQ(writer_->Stats().syncs, before.syncs + 1);
  // Nothing left to sync: however long it waits, no more fsyncs.
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(clock_.waits(), waits + 1) << "still in the same wait";
  EXPECT_EQ(writer_->Stats().syncs, before.syncs + 1);
  EXPECT_EQ(Ids("parent"), std::vector<int64_t>{1});
}

// Writes that keep coming do not put off a sync that is due: the batch taken when it is due is
// committed with an fsync.
TEST_F(GroupCommitWriterTest, ASyncDueWhileWritesKeepComingIsNotPutOff) {
  Start("", std::chrono::milliseconds(1000), clock_);
  ASSERT_THAT(writer_->Run(Insert("parent", 1), Durability::kWritten), IsOk());
  const uint64_t syncs = writer_->Stats().syncs;
  Hold hold(*writer_, Durability::kWritten);
  std::promise<uint64_t> syncs_when_done;
  writer_->RunAsync(Insert("parent", 2), Durability::kWritten, [&](Status s) {
    EXPECT_THAT(s, IsOk());
    // On the writer thread, before it takes anything else.
    syncs_when_done.set_value(writer_->Stats().syncs);
  });
  WaitForPending(1);
  clock_.Advance(std::chrono::milliseconds(1000));  // the first write is due for its fsync
  EXPECT_THAT(hold.Release(), IsOk());
  EXPECT_EQ(syncs_when_done.get_future().get(), syncs + 1)
      << "the write queued when the sync fell due was committed with an fsync";
  EXPECT_EQ(Ids("parent"), (std::vector<int64_t>{1, 2}));
}

TEST_F(GroupCommitWriterTest, ABatchWithOneSyncedOpIsFullySynchronous) {
  Start();
  const GroupCommitStats before = writer_->Stats();
  const std::vector<Status> results = RunAsOneBatch({Insert("parent", 1), Insert("parent", 2)});
  ASSERT_THAT(results[0], IsOk());
  ASSERT_THAT(results[1], IsOk());
  const GroupCommitStats after = writer_->Stats();
  EXPECT_EQ(after.syncs - before.syncs, after.commits - before.commits)
      << "every commit holding a kSynced op is an fsync";
  ASSERT_THAT(writer_->Run(Insert("parent", 3), Durability::kWritten), IsOk());
  ASSERT_THAT(writer_->Run(Insert("parent", 4)), IsOk());
  int64_t level = -1;
  const Status ran = writer_->Run([&](SqliteConnection& db) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("PRAGMA synchronous"));
    ASSIGN_OR_RETURN(const bool row, st.Step());
    level = row ? st.ColumnInt(0) : -1;
    return OkStatus();
  });
  ASSERT_THAT(ran, IsOk());
  EXPECT_EQ(level, 2) << "back to FULL for a synced op";
  EXPECT_EQ(Ids("parent"), (std::vector<int64_t>{1, 2, 3, 4}));
}

// RunAsync: the callback gets what Run would have returned, once the batch is over, and
// operations of both kinds share batches.
TEST_F(GroupCommitWriterTest, RunAsyncReportsEachOperationsOwnOutcomeAfterItsBatch) {
  Start();
  Hold hold(*writer_);
  std::promise<Status> kept;
  std::promise<Status> refused;
  std::atomic<int> calls = 0;
  writer_->RunAsync(Insert("parent", 1), Durability::kWritten, [&](Status s) {
    ++calls;
    kept.set_value(std::move(s));
  });
  // A duplicate id: its own error, and the rest of the batch is unaffected.
  writer_->RunAsync(Insert("parent", 1), Durability::kWritten, [&](Status s) {
    ++calls;
    refused.set_value(std::move(s));
  });
  auto waited = std::async(std::launch::async, [&] { return writer_->Run(Insert("parent", 2)); });
  WaitForPending(3);
  EXPECT_EQ(calls.load(), 0);  // nothing is reported before its batch has run
  EXPECT_THAT(hold.Release(), IsOk());
  EXPECT_THAT(kept.get_future().get(), IsOk());
  EXPECT_FALSE(refused.get_future().get().ok());
  EXPECT_THAT(waited.get(), IsOk());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(Ids("parent"), (std::vector<int64_t>{1, 2}));
  EXPECT_GE(writer_->Stats().largest_batch, 3u);
}

TEST_F(GroupCommitWriterTest, RunAsyncOperationsInAFailedCommitAreReportedUnavailable) {
  Start();
  std::promise<Status> dangling;
  std::promise<Status> innocent;
  Hold hold(*writer_);
  // The dangling child makes the batch's COMMIT fail: every operation in it loses its changes.
  writer_->RunAsync(Insert("child", 10, /*parent_id=*/99), Durability::kWritten,
                    [&](Status s) { dangling.set_value(std::move(s)); });
  writer_->RunAsync(Insert("parent", 5), Durability::kWritten,
                    [&](Status s) { innocent.set_value(std::move(s)); });
  WaitForPending(2);
  EXPECT_THAT(hold.Release(), IsOk());  // its own batch, before the others were queued
  EXPECT_THAT(dangling.get_future().get(), StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(innocent.get_future().get(), StatusIs(StatusCode::kUnavailable));
  EXPECT_TRUE(Ids("parent").empty());
}

TEST_F(GroupCommitWriterTest, RunAsyncQueuedBeforeCloseStillRuns) {
  Start();
  std::promise<Status> queued;
  writer_->RunAsync(Insert("parent", 7), Durability::kWritten,
                    [&](Status s) { queued.set_value(std::move(s)); });
  writer_.reset();  // runs what is queued, then closes
  EXPECT_THAT(queued.get_future().get(), IsOk());
  auto db = SqliteConnection::Open(dir_ + "/w.db", SqliteConnection::Mode::kReadWrite, 1000);
  ASSERT_THAT(db, IsOk());
  auto st = (*db)->Prepare("SELECT count(*) FROM parent WHERE id = 7");
  ASSERT_THAT(st, IsOk());
  auto row = st->Step();
  ASSERT_THAT(row, IsOk());
  EXPECT_TRUE(*row);
  EXPECT_EQ(st->ColumnInt(0), 1);
}

TEST_F(GroupCommitWriterTest, RunInsideANonBlockingScopeRefusesAndQueuesNothing) {
  Start();
  {
    NonBlockingScope scope;
    EXPECT_THAT(writer_->Run(Insert("parent", 1)), StatusIs(StatusCode::kUnavailable));
    EXPECT_TRUE(scope.refused());
    // RunAsync does not wait, so it is allowed.
    std::promise<Status> queued;
    writer_->RunAsync(Insert("parent", 2), Durability::kWritten,
                      [&](Status s) { queued.set_value(std::move(s)); });
    EXPECT_THAT(queued.get_future().get(), IsOk());
  }
  EXPECT_EQ(Ids("parent"), (std::vector<int64_t>{2}));
}

}  // namespace
}  // namespace coffer
