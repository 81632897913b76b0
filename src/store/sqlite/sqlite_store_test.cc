// SqliteStore: the Store conformance suite on SQLite, plus what only SQLite has: the file, its
// schema migrations, byte-ordered prefixes, result codes (its writer: sqlite_store_commit_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/sqlite/sqlite_migrations.h"
#include "store/sqlite/sqlite_status.h"
#include "store/sqlite/sqlite_store_test.h"
#include "store/store_conformance_test.h"

namespace coffer {
namespace {

using ::testing::_;
using ::testing::HasSubstr;

using store_testing::ChainIsIntact;
using store_testing::FakeSeal;
using store_testing::kT0;
using store_testing::MakeEvent;
using store_testing::RawExec;
using store_testing::RawQuery;
using store_testing::SqliteStoreTest;

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
      EXPECT_THAT(store, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("chmod 600 " + file)))
          << file << " " << std::oct << mode;
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
    EXPECT_THAT(store, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("chmod go-w " + dir_)))
        << std::oct << mode;
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  EXPECT_NE(MustOpen(), nullptr);
}

TEST_F(SqliteStoreTest, CloseCheckpointsTheWal) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  const Vault v = AddVault(*store);
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(store->PutSecretVersion(NewVersion(v, "s"), FakeSeal("x"), nullptr), IsOk());
  }
  store.reset();
  const std::string wal = path_ + "-wal";
  EXPECT_TRUE(!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0);
  EXPECT_EQ(RawQuery(path_, "SELECT latest_version FROM secrets"), std::vector<std::string>{"20"});
}

TEST_F(SqliteStoreTest, RejectsBadOptionsAndAMissingDirectory) {
  EXPECT_THAT(SqliteStore::Open({}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SqliteStore::Open({.path = path_, .reader_connections = 0}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(SqliteStore::Open({.path = path_, .max_batch = 0}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenSqliteStore({.path = dir_ + "/no/such/dir/coffer.db"}),
              StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsDataLoss) {
  std::ofstream(path_) << std::string(8192, 'x');
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  EXPECT_THAT(SqliteStore::Open({.path = path_}), StatusIs(StatusCode::kDataLoss));
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
  ASSERT_THAT(store, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store, StatusIs(_, HasSubstr("newer")));
}

TEST_F(SqliteStoreTest, MigrationsApplyOnlyWhatIsMissing) {
  ASSERT_NE(MustOpen(), nullptr);  // applies the real list
  // A further migration arrives: only it runs.
  std::vector<SqliteMigration> next(SqliteMigrations().begin(), SqliteMigrations().end());
  const int64_t added = next.back().version + 1;
  next.push_back({added, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY) STRICT"});
  auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
  ASSERT_THAT(db, IsOk());
  ASSERT_THAT(ApplySqliteMigrations(**db, next, kT0), IsOk());
  ASSERT_THAT(ApplySqliteMigrations(**db, next, kT0), IsOk());
  // The real list is now older than the file.
  EXPECT_THAT(ApplySqliteMigrations(**db, SqliteMigrations(), kT0),
              StatusIs(StatusCode::kFailedPrecondition));
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
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec("PRAGMA journal_mode = WAL"), IsOk());
    ASSERT_THAT(ApplySqliteMigrations(**db, SqliteMigrations().first(1), kT0), IsOk());
    ASSERT_THAT((*db)->Exec("INSERT INTO vaults VALUES ('v-old', 'old', '', 'owner-1', 1)"),
                IsOk());
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);  // SQLite created it with its default 0644
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto vault = store->GetVault("v-old");
  ASSERT_THAT(vault, IsOk());
  EXPECT_EQ(vault->name, "old");
  AuditEvent event;
  event.action = "vault.delete";
  ASSERT_THAT(store->DeleteVault("v-old", &event), IsOk());
  auto events = store->ListAudit({});
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].seq, 1);
  store.reset();
  std::vector<std::string> every;
  for (const SqliteMigration& m : SqliteMigrations()) every.push_back(std::to_string(m.version));
  EXPECT_EQ(RawQuery(path_, "SELECT version FROM schema_migrations ORDER BY version"), every);
  // Migration 7: audit events are found by path from an index.
  EXPECT_EQ(RawQuery(path_,
                     "SELECT name FROM sqlite_master WHERE type = 'index' AND"
                     " name = 'audit_events_path_seq'"),
            (std::vector<std::string>{"audit_events_path_seq"}));
}

TEST_F(SqliteStoreTest, PoliciesFromBeforeEffectsAndConditionsBecomeUnconditionalAllows) {
  // A file as the migrations before the policy columns left it, with a policy.
  size_t before = 0;
  while (before < SqliteMigrations().size() &&
         SqliteMigrations()[before].sql.find("ALTER TABLE policies ADD COLUMN effect") ==
             std::string_view::npos) {
    ++before;
  }
  ASSERT_LT(before, SqliteMigrations().size()) << "the policy columns' migration";
  {
    auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec("PRAGMA journal_mode = WAL"), IsOk());
    ASSERT_THAT(ApplySqliteMigrations(**db, SqliteMigrations().first(before), kT0), IsOk());
    ASSERT_THAT((*db)->Exec("INSERT INTO vaults VALUES ('v-old', 'old', '', 'owner-1', 1);"
                            "INSERT INTO policies VALUES ('p-old', 'v-old', 'agent', 'bot', '**',"
                            " 17, NULL, 1, 'owner-1')"),
                IsOk());
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  auto policy = store->GetPolicy("v-old", "p-old");
  ASSERT_THAT(policy, IsOk());
  EXPECT_EQ(policy->permissions, 17);
  EXPECT_EQ(policy->effect, PolicyEffect::kAllow);
  EXPECT_EQ(policy->priority, 0);
  EXPECT_TRUE(policy->conditions.empty());
  EXPECT_FALSE(policy->updated_at.has_value());
}

TEST_F(SqliteStoreTest, AnAuditChainFromBeforeTheRequestCountStillVerifies) {
  // A file as migrations 1-3 left it, with an event hashed before `count` existed.
  AuditEvent old = MakeEvent("auth.failed");
  old.seq = 1;
  old.hash = AuditChainHash(old.prev_hash, old);
  {
    auto db = SqliteConnection::Open(path_, SqliteConnection::Mode::kReadWrite, 1000);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec("PRAGMA journal_mode = WAL"), IsOk());
    ASSERT_THAT(ApplySqliteMigrations(**db, SqliteMigrations().first(3), kT0), IsOk());
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
  ASSERT_THAT(store->AppendAudit(summary), IsOk());
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
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Exec("PRAGMA journal_mode = WAL"), IsOk());
    ASSERT_THAT(ApplySqliteMigrations(**db, SqliteMigrations().first(4), kT0), IsOk());
    ASSERT_THAT(
        (*db)->Exec(
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
            " ('p-stolen', '22222222-b', 'agent', 'admin-bot', '**', 1, NULL, 5, 'mallory')"),
        IsOk());
  }
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);  // as the store creates it
  std::vector<std::string> notices;
  auto store = SqliteStore::Open(
      {.path = path_, .on_migration_notice = [&](std::string_view n) { notices.emplace_back(n); }});
  ASSERT_THAT(store, IsOk());
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
  EXPECT_THAT((*store)->InsertVault({NewUuid(), "pRoD", "", "bob", kT0}, nullptr),
              StatusIs(StatusCode::kAlreadyExists));
  store->reset();
  // Reopening changes nothing more and says nothing.
  notices.clear();
  auto again = SqliteStore::Open(
      {.path = path_, .on_migration_notice = [&](std::string_view n) { notices.emplace_back(n); }});
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(notices.empty());
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
    ASSERT_THAT(store->PutSecretVersion(NewVersion(v, p), FakeSeal("x"), nullptr), IsOk());
  }
  auto list = [&](std::string_view prefix) {
    std::vector<std::string> out;
    auto page = store->ListSecrets(v.id, prefix, "", 100);
    EXPECT_THAT(page, IsOk());
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
