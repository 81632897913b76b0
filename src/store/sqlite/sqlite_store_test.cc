// SqliteStore: the Store conformance suite on SQLite, plus what only SQLite has: the file and
// its schema migrations, group commit, readers that do not wait for the writer.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/ids.h"
#include "store/sqlite/sqlite_migrations.h"
#include "store/sqlite/sqlite_status.h"
#include "store/store_conformance_test.h"

namespace coffer {
namespace {

using store_testing::ChainIsIntact;
using store_testing::FakeSeal;
using store_testing::HasCode;
using store_testing::IsOk;
using store_testing::kT0;
using store_testing::MakeEvent;

std::unique_ptr<Store> OpenForConformance(const std::string& dir) {
  // Fewer readers than test threads, so leases are contended too.
  auto store = OpenSqliteStore({.path = dir + "/coffer.db", .reader_connections = 4});
  if (!store.has_value()) {
    ADD_FAILURE() << store.error();
    return nullptr;
  }
  return std::move(store).value();
}

using store_testing::StoreConformanceTest;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
                         ::testing::Values(store_testing::StoreBackend{"Sqlite",
                                                                       OpenForConformance}),
                         store_testing::BackendName);

// Runs one statement on the file through a connection of its own, outside the store.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// Runs `sql` on the file through a connection of its own and returns SQLite's result code.
int RawExecCode(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

// The rows of `sql` as "a|b" strings.
std::vector<std::string> RawQuery(const std::string& path, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      if (i > 0) {
        row += "|";
      }
      const auto* text = sqlite3_column_text(st, i);
      row += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

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

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "coffer-sqlite-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/coffer.db";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<SqliteStore> MustOpen(SqliteStoreOptions options = {}) {
    options.path = path_;
    auto store = SqliteStore::Open(options);
    EXPECT_TRUE(IsOk(store));
    return store.has_value() ? std::move(store).value() : nullptr;
  }

  static Vault AddVault(Store& store, std::string name = "v") {
    Vault v{NewUuid(), std::move(name), "", "owner-1", kT0};
    EXPECT_TRUE(IsOk(store.InsertVault(v, nullptr)));
    return v;
  }

  // Every audit event in seq order.
  static std::vector<AuditEvent> AllAudit(Store& store) {
    std::vector<AuditEvent> events;
    EXPECT_TRUE(IsOk(store.ScanAudit([&](const AuditEvent& e) {
      events.push_back(e);
      return true;
    })));
    return events;
  }

  static NewSecretVersion NewVersion(const Vault& v, std::string path) {
    NewSecretVersion n;
    n.vault_id = v.id;
    n.path = std::move(path);
    n.created_at = kT0;
    return n;
  }

  // Waits until `n` write operations are queued behind the (blocked) writer.
  static void WaitForPending(const SqliteStore& store, uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (store.Stats().pending_ops < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(store.Stats().pending_ops, n);
  }

  std::string dir_;
  std::string path_;
};

// --- the file and its schema -------------------------------------------------------------------

TEST_F(SqliteStoreTest, CreatesAPrivateFileInWalMode) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the file holds wrapped keys";
  store.reset();
  EXPECT_EQ(RawQuery(path_, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_F(SqliteStoreTest, RefusesStoreFilesOtherUsersCouldReadOrChange) {
  MustOpen().reset();  // creates the file (0600) and its schema
  for (const std::string suffix : {"", "-wal", "-shm"}) {
    const std::string file = path_ + suffix;
    if (!suffix.empty()) {
      // As another program might have left them (SQLite removes them on a clean close).
      const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
      ASSERT_GE(fd, 0) << file;
      ::close(fd);
    }
    for (const mode_t mode : {0644, 0666, 0640, 0604, 0620}) {
      ASSERT_EQ(::chmod(file.c_str(), mode), 0);
      auto store = SqliteStore::Open(SqliteStoreOptions{.path = path_});
      ASSERT_FALSE(store.has_value()) << file << " " << std::oct << mode;
      EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(store.error().message().find("chmod 600 " + file), std::string::npos)
          << store.error().message();
    }
    ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
    if (!suffix.empty()) {
      ASSERT_EQ(::unlink(file.c_str()), 0);
    }
  }
  EXPECT_NE(MustOpen(), nullptr);
}

TEST_F(SqliteStoreTest, RefusesADirectoryOtherUsersCanWriteTo) {
  for (const mode_t mode : {0777, 01777, 0770}) {
    ASSERT_EQ(::chmod(dir_.c_str(), mode), 0);
    auto store = SqliteStore::Open(SqliteStoreOptions{.path = path_});
    ASSERT_FALSE(store.has_value()) << std::oct << mode;
    EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(store.error().message().find("chmod go-w " + dir_), std::string::npos)
        << store.error().message();
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  EXPECT_NE(MustOpen(), nullptr);
}

TEST_F(SqliteStoreTest, CloseCheckpointsTheWal) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, "s"), FakeSeal("x"), nullptr)));
  }
  store.reset();
  const std::string wal = path_ + "-wal";
  EXPECT_TRUE(!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0);
  EXPECT_EQ(RawQuery(path_, "SELECT latest_version FROM secrets"), std::vector<std::string>{"20"});
}

TEST_F(SqliteStoreTest, RejectsBadOptionsAndAMissingDirectory) {
  EXPECT_TRUE(HasCode(SqliteStore::Open({}), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(SqliteStore::Open({.path = path_, .reader_connections = 0}),
                      StatusCode::kInvalidArgument));
  EXPECT_TRUE(
      HasCode(SqliteStore::Open({.path = path_, .max_batch = 0}), StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(OpenSqliteStore({.path = dir_ + "/no/such/dir/coffer.db"}),
                      StatusCode::kFailedPrecondition));
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsDataLoss) {
  std::ofstream(path_) << std::string(8192, 'x');
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(HasCode(SqliteStore::Open({.path = path_}), StatusCode::kDataLoss));
}

TEST_F(SqliteStoreTest, MigrationsAreRecordedOnceAcrossReopens) {
  std::vector<std::string> want;
  for (const SqliteMigration& m : SqliteMigrations()) {
    want.push_back(std::to_string(m.version) + "|" + std::string(m.name));
  }
  for (int i = 0; i < 3; ++i) {
    auto store = MustOpen();
    ASSERT_NE(store, nullptr);
    AddVault(*store, "v" + std::to_string(i));
  }
  EXPECT_EQ(RawQuery(path_, "SELECT version, name FROM schema_migrations ORDER BY version"), want);
  EXPECT_EQ(RawQuery(path_, "SELECT name FROM vaults ORDER BY name"),
            (std::vector<std::string>{"v0", "v1", "v2"}));
}

TEST_F(SqliteStoreTest, ASchemaNewerThanTheBinaryIsRefused) {
  ASSERT_NE(MustOpen(), nullptr);
  const int64_t future = SqliteMigrations().back().version + 1;
  RawExec(path_, "INSERT INTO schema_migrations VALUES (" + std::to_string(future) +
                     ", 'from the future', 0)");
  auto store = SqliteStore::Open({.path = path_});
  ASSERT_TRUE(HasCode(store, StatusCode::kFailedPrecondition));
  EXPECT_NE(store.error().message().find("newer"), std::string::npos) << store.error();
}

TEST_F(SqliteStoreTest, MigrationsApplyOnlyWhatIsMissing) {
  ASSERT_NE(MustOpen(), nullptr);  // applies the real list
  // A further migration arrives: only it runs.
  std::vector<SqliteMigration> next(SqliteMigrations().begin(), SqliteMigrations().end());
  const int64_t added = next.back().version + 1;
  next.push_back({added, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY) STRICT"});
  auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
  ASSERT_TRUE(IsOk(db));
  ASSERT_TRUE(IsOk(ApplySqliteMigrations(**db, next, kT0)));
  ASSERT_TRUE(IsOk(ApplySqliteMigrations(**db, next, kT0)));
  // The real list is now older than the file.
  EXPECT_TRUE(HasCode(ApplySqliteMigrations(**db, SqliteMigrations(), kT0),
                      StatusCode::kFailedPrecondition));
  db->reset();
  std::vector<std::string> want;
  for (const SqliteMigration& m : next) {
    want.push_back(std::to_string(m.version) + (m.version == added ? "|1" : "|0"));
  }
  EXPECT_EQ(RawQuery(path_,
                     "SELECT version, applied_at = 1700000000000000 FROM"
                     " schema_migrations ORDER BY version"),
            want);
}

TEST_F(SqliteStoreTest, AVersionOneDatabaseIsUpgradedInPlace) {
  // A file as a Coffer with only the first migration left it, holding a vault.
  {
    auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
    ASSERT_TRUE(IsOk(db));
    ASSERT_TRUE(IsOk((*db)->Exec("PRAGMA journal_mode = WAL")));
    ASSERT_TRUE(IsOk(ApplySqliteMigrations(**db, SqliteMigrations().first(1), kT0)));
    ASSERT_TRUE(IsOk((*db)->Exec("INSERT INTO vaults VALUES ('v-old', 'old', '', 'owner-1', 1)")));
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);  // SQLite created it with its default 0644
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto vault = store->GetVault("v-old");
  ASSERT_TRUE(IsOk(vault));
  EXPECT_EQ(vault->name, "old");
  AuditEvent event;
  event.action = "vault.delete";
  ASSERT_TRUE(IsOk(store->DeleteVault("v-old", &event)));
  auto events = store->ListAudit({});
  ASSERT_TRUE(IsOk(events));
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].seq, 1);
  store.reset();
  EXPECT_EQ(RawQuery(path_, "SELECT version FROM schema_migrations ORDER BY version"),
            (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST_F(SqliteStoreTest, AnAuditChainFromBeforeTheRequestCountStillVerifies) {
  // A file as migrations 1-3 left it, with an event hashed before `count` existed.
  AuditEvent old = MakeEvent("auth.failed");
  old.seq = 1;
  old.hash = AuditChainHash(old.prev_hash, old);
  {
    auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
    ASSERT_TRUE(IsOk(db));
    ASSERT_TRUE(IsOk((*db)->Exec("PRAGMA journal_mode = WAL")));
    ASSERT_TRUE(IsOk(ApplySqliteMigrations(**db, SqliteMigrations().first(3), kT0)));
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);  // as the store creates it
  RawExec(path_, "INSERT INTO audit_events VALUES (1, " + std::to_string(old.at) + ", '" +
                     old.request_id + "', 'user', 'user-1', 'auth.failed', '', '', 0, '" +
                     old.client_ip + "', 'success', 'OK', X'" + HexEncode(old.prev_hash) + "', X'" +
                     HexEncode(old.hash) + "', 0)");
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  AuditEvent summary = MakeEvent("auth.failed.summary");
  summary.count = 12;
  ASSERT_TRUE(IsOk(store->AppendAudit(summary)));
  const std::vector<AuditEvent> events = AllAudit(*store);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].count, 0);
  EXPECT_EQ(events[0].hash, old.hash);
  EXPECT_EQ(events[1].count, 12);
  EXPECT_TRUE(ChainIsIntact(events));
}

TEST_F(SqliteStoreTest, UpgradingMakesVaultNamesUniqueAndDropsGrantsNoOneMayMake) {
  // A file as a Coffer with migrations 1-4 left it: vault names unique per owner only, and
  // policies naming an agent made by whoever owned the vault.
  {
    auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
    ASSERT_TRUE(IsOk(db));
    ASSERT_TRUE(IsOk((*db)->Exec("PRAGMA journal_mode = WAL")));
    ASSERT_TRUE(IsOk(ApplySqliteMigrations(**db, SqliteMigrations().first(4), kT0)));
    ASSERT_TRUE(IsOk((*db)->Exec(
        "INSERT INTO users VALUES ('admin', 'admin', 1, 1), ('alice', 'alice', 0, 2),"
        " ('mallory', 'mallory', 0, 3);"
        "INSERT INTO agents VALUES ('admin-bot', 'bot', '', 'admin', 1, NULL),"
        " ('alice-bot', 'bot', '', 'alice', 1, NULL);"
        "INSERT INTO vaults VALUES ('11111111-a', 'prod', '', 'admin', 10),"
        " ('22222222-b', 'Prod', '', 'mallory', 20), ('33333333-c', 'PROD', '', 'alice', 20),"
        " ('44444444-d', 'dev', '', 'alice', 5);"
        "INSERT INTO policies VALUES"
        " ('p-admin', '11111111-a', 'agent', 'admin-bot', '**', 1, NULL, 1, 'admin'),"
        " ('p-owner', '44444444-d', 'agent', 'alice-bot', '**', 1, NULL, 2, 'alice'),"
        " ('p-admin-for-alice', '44444444-d', 'agent', 'alice-bot', '**', 1, NULL, 3, 'admin'),"
        " ('p-user', '22222222-b', 'user', 'alice', '**', 1, NULL, 4, 'mallory'),"
        " ('p-stolen', '22222222-b', 'agent', 'admin-bot', '**', 1, NULL, 5, 'mallory')")));
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);  // as the store creates it
  std::vector<std::string> notices;
  auto store = SqliteStore::Open(
      {.path = path_, .on_migration_notice = [&](std::string_view n) { notices.emplace_back(n); }});
  ASSERT_TRUE(IsOk(store));
  // The earliest vault keeps the name; later ones (ties in insertion order) get their id's start.
  EXPECT_EQ(RawQuery(path_, "SELECT id, name FROM vaults ORDER BY id"),
            (std::vector<std::string>{"11111111-a|prod", "22222222-b|Prod-22222222",
                                      "33333333-c|PROD-33333333", "44444444-d|dev"}));
  // Only the grant of the admin's agent by someone who is neither its owner nor an admin goes.
  EXPECT_EQ(RawQuery(path_, "SELECT id FROM policies ORDER BY id"),
            (std::vector<std::string>{"p-admin", "p-admin-for-alice", "p-owner", "p-user"}));
  ASSERT_EQ(notices.size(), 3u);
  EXPECT_NE(notices[0].find("store migration 5: vault 22222222-b (owner mallory) renamed from "
                            "'Prod' to 'Prod-22222222'"),
            std::string::npos)
      << notices[0];
  EXPECT_NE(notices[1].find("'PROD' to 'PROD-33333333'"), std::string::npos) << notices[1];
  EXPECT_NE(notices[2].find("policy p-stolen of vault 22222222-b deleted"), std::string::npos)
      << notices[2];
  // From now on the store refuses a second vault of the name in any case.
  EXPECT_TRUE(HasCode((*store)->InsertVault({NewUuid(), "pRoD", "", "bob", kT0}, nullptr),
                      StatusCode::kAlreadyExists));
  store->reset();
  // Reopening changes nothing more and says nothing.
  notices.clear();
  auto again = SqliteStore::Open(
      {.path = path_, .on_migration_notice = [&](std::string_view n) { notices.emplace_back(n); }});
  ASSERT_TRUE(IsOk(again));
  EXPECT_TRUE(notices.empty());
}

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
  ASSERT_TRUE(IsOk(put));
  ASSERT_TRUE(IsOk(store->ConsumeSecretAccess(put->secret_id, 1, nullptr)));
  const SqliteStoreStats before = store->Stats();

  WriterBlocker blocker;
  std::thread first([&] {
    EXPECT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, "first"), blocker.Seal(), nullptr)));
  });
  blocker.WaitUntilBlocked();

  // Six writes queue up behind the blocked one; three of them fail.
  std::vector<std::thread> queued;
  for (const std::string path : {"ok/1", "ok/2", "ok/3"}) {
    queued.emplace_back([&, path] {
      EXPECT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, path), FakeSeal("x"), nullptr)));
    });
  }
  queued.emplace_back([&] {
    EXPECT_TRUE(HasCode(store->InsertVault({NewUuid(), v.name, "", v.owner_id, kT0}, nullptr),
                        StatusCode::kAlreadyExists));
  });
  queued.emplace_back([&] {
    auto failed = store->PutSecretVersion(
        NewVersion(v, "never"),
        [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
          return Err(InternalError("seal failed"));
        },
        nullptr);
    EXPECT_TRUE(HasCode(failed, StatusCode::kInternal));
  });
  queued.emplace_back([&] {
    EXPECT_TRUE(HasCode(store->ConsumeSecretAccess(put->secret_id, 1, nullptr), StatusCode::kGone));
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
  ASSERT_TRUE(IsOk(page));
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
    EXPECT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, "first"), blocker.Seal(), nullptr)));
  });
  blocker.WaitUntilBlocked();
  std::vector<std::thread> queued;
  for (int i = 0; i < 5; ++i) {
    queued.emplace_back([&, i] {
      EXPECT_TRUE(IsOk(
          store->PutSecretVersion(NewVersion(v, "q" + std::to_string(i)), FakeSeal("x"), nullptr)));
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
  ASSERT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, "s"), FakeSeal("committed"), nullptr)));

  WriterBlocker blocker;
  std::thread writer([&] {
    EXPECT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, "s"), blocker.Seal(), nullptr)));
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
  ASSERT_TRUE(IsOk(got));
  EXPECT_EQ(got->version, 1);
}

// --- SQLite specifics of the contract ----------------------------------------------------------

TEST_F(SqliteStoreTest, PrefixesEndingInByteFFAreListedCorrectly) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  const std::vector<std::string> paths = {"a\xfe", "a\xff", "a\xff\xff",
                                          "a\xff"
                                          "b",
                                          "b"};
  for (const std::string& p : paths) {
    ASSERT_TRUE(IsOk(store->PutSecretVersion(NewVersion(v, p), FakeSeal("x"), nullptr)));
  }
  auto list = [&](std::string_view prefix) {
    std::vector<std::string> out;
    auto page = store->ListSecrets(v.id, prefix, "", 100);
    EXPECT_TRUE(IsOk(page));
    for (const SecretSummary& s : page->secrets) {
      out.push_back(s.path);
    }
    return out;
  };
  // Byte order: "a\xff" "b" sorts before "a\xff\xff".
  EXPECT_EQ(list("a\xff"), (std::vector<std::string>{"a\xff",
                                                     "a\xff"
                                                     "b",
                                                     "a\xff\xff"}));
  EXPECT_EQ(list("a\xff\xff"), std::vector<std::string>{"a\xff\xff"});
  EXPECT_EQ(list("a"), (std::vector<std::string>{"a\xfe", "a\xff",
                                                 "a\xff"
                                                 "b",
                                                 "a\xff\xff"}));
  EXPECT_TRUE(list("\xff").empty());
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
  ASSERT_TRUE(IsOk(store->AppendAudit(MakeEvent("one"))));
  ASSERT_TRUE(IsOk(store->AppendAudit(MakeEvent("two"))));  // the head is cached at seq 2
  RawExec(path_, std::string(kPoisonCommitSql));

  // Alone in its batch: the COMMIT fails, the event is gone.
  EXPECT_TRUE(HasCode(store->AppendAudit(Poisoned()), StatusCode::kUnavailable));
  auto three = store->AppendAudit(MakeEvent("three"));
  ASSERT_TRUE(IsOk(three));
  EXPECT_EQ(three->seq, 3) << "the rolled-back seq 3 is handed out again";

  // In a batch with others: every event of the batch is gone, mutations' included.
  const Vault v = AddVault(*store);
  WriterBlocker blocker;
  AuditEvent blocked_event = MakeEvent("blocked.write");
  std::thread first([&] {
    EXPECT_TRUE(
        IsOk(store->PutSecretVersion(NewVersion(v, "first"), blocker.Seal(), &blocked_event)));
  });
  blocker.WaitUntilBlocked();
  std::vector<std::thread> queued;
  queued.emplace_back([&] {
    EXPECT_TRUE(HasCode(store->AppendAudit(MakeEvent("lost")), StatusCode::kUnavailable));
  });
  queued.emplace_back(
      [&] { EXPECT_TRUE(HasCode(store->AppendAudit(Poisoned()), StatusCode::kUnavailable)); });
  queued.emplace_back([&] {
    const AuditEvent e = MakeEvent("lost.write");
    EXPECT_TRUE(HasCode(store->PutSecretVersion(NewVersion(v, "lost"), FakeSeal("x"), &e),
                        StatusCode::kUnavailable));
  });
  WaitForPending(*store, 3);
  blocker.Release();
  first.join();
  for (std::thread& t : queued) {
    t.join();
  }

  auto after = store->AppendAudit(MakeEvent("after"));
  ASSERT_TRUE(IsOk(after));
  EXPECT_EQ(after->seq, 5) << "3, then the blocked write's 4; the failed batch's are reused";
  const std::vector<AuditEvent> events = AllAudit(*store);
  std::vector<std::string> actions;
  for (const AuditEvent& e : events) {
    actions.push_back(e.action);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"one", "two", "three", "blocked.write", "after"}));
  EXPECT_TRUE(ChainIsIntact(events));
  EXPECT_TRUE(HasCode(store->GetSecretVersion(v.id, "lost", {}), StatusCode::kNotFound));
}

TEST_F(SqliteStoreTest, AnEventThatCannotBeWrittenFailsItsMutation) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  ASSERT_TRUE(IsOk(store->AppendAudit(MakeEvent("one"))));
  RawExec(path_,
          "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.request_id = 'refuse'"
          " BEGIN SELECT RAISE(ABORT, 'refused'); END");
  AuditEvent refused = MakeEvent("secret.write");
  refused.request_id = "refuse";
  EXPECT_FALSE(store->PutSecretVersion(NewVersion(v, "s"), FakeSeal("x"), &refused).has_value());
  EXPECT_TRUE(HasCode(store->GetSecretVersion(v.id, "s", {}), StatusCode::kNotFound))
      << "fail closed: no event, no write";
  EXPECT_FALSE(store->DeleteVault(v.id, &refused).ok());
  EXPECT_TRUE(IsOk(store->GetVault(v.id)));

  auto two = store->AppendAudit(MakeEvent("two"));
  ASSERT_TRUE(IsOk(two));
  EXPECT_EQ(two->seq, 2);
  EXPECT_TRUE(ChainIsIntact(AllAudit(*store)));
}

TEST_F(SqliteStoreTest, EventsAppendedByAnotherProcessAreChainedOnto) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto one = store->AppendAudit(MakeEvent("one"));  // caches the head at seq 1
  ASSERT_TRUE(IsOk(one));
  // Another process (another Coffer on the same file) appends seq 2.
  AuditEvent two = MakeEvent("from.elsewhere");
  two.seq = 2;
  two.prev_hash = one->hash;
  two.hash = AuditChainHash(two.prev_hash, two);
  RawExec(path_, "INSERT INTO audit_events VALUES (2, " + std::to_string(two.at) + ", '" +
                     two.request_id + "', 'user', 'user-1', 'from.elsewhere', '', '', 0, '" +
                     two.client_ip + "', 'success', 'OK', X'" + HexEncode(two.prev_hash) + "', X'" +
                     HexEncode(two.hash) + "', 0, 0)");

  auto three = store->AppendAudit(MakeEvent("three"));
  ASSERT_TRUE(IsOk(three));
  EXPECT_EQ(three->seq, 3);
  EXPECT_EQ(three->prev_hash, two.hash);
  EXPECT_TRUE(ChainIsIntact(AllAudit(*store)));
}

TEST_F(SqliteStoreTest, AuditRowsAreAppendOnly) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(IsOk(store->AppendAudit(MakeEvent("one"))));
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
    ASSERT_TRUE(IsOk(d));
    EXPECT_TRUE(d->allowed) << i;
  }
  ASSERT_TRUE(IsOk(store->HitRateLimit("other", kWindow, 3, kT0)));
  store.reset();
  EXPECT_EQ(RawQuery(path_, "SELECT key, count(*) FROM rate_limit_hits GROUP BY key ORDER BY key"),
            (std::vector<std::string>{"k|2", "other|1"}));
}

TEST(SqliteStatusTest, MapsResultCodesWithoutDetail) {
  const std::vector<std::pair<int, StatusCode>> cases = {
      {SQLITE_FULL, StatusCode::kUnavailable},
      {SQLITE_IOERR_FSYNC, StatusCode::kUnavailable},
      {SQLITE_READONLY, StatusCode::kUnavailable},
      {SQLITE_BUSY, StatusCode::kUnavailable},
      {SQLITE_CANTOPEN, StatusCode::kUnavailable},
      {SQLITE_CONSTRAINT_UNIQUE, StatusCode::kAlreadyExists},
      {SQLITE_CONSTRAINT_PRIMARYKEY, StatusCode::kAlreadyExists},
      {SQLITE_CONSTRAINT_FOREIGNKEY, StatusCode::kFailedPrecondition},
      {SQLITE_CONSTRAINT_NOTNULL, StatusCode::kFailedPrecondition},
      {SQLITE_CORRUPT, StatusCode::kDataLoss},
      {SQLITE_NOTADB, StatusCode::kDataLoss},
      {SQLITE_TOOBIG, StatusCode::kInvalidArgument},
      {SQLITE_MISUSE, StatusCode::kInternal},
  };
  for (const auto& [code, want] : cases) {
    EXPECT_EQ(SqliteStatus(code, "ctx").code(), want) << sqlite3_errstr(code);
  }
  EXPECT_EQ(SqliteStatus(SQLITE_BUSY, "insert").message(), "store: insert: database is locked");
  // A storage fault also carries its marker (sqlite_status_test.cc).
  EXPECT_EQ(SqliteStatus(SQLITE_FULL, "insert").message(),
            "store: insert: database or disk is full (storage full)");
}

}  // namespace
}  // namespace coffer
