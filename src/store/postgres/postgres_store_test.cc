// PostgresStore: the Store conformance suite on PostgreSQL, plus what only a shared database
// has: several stores (as several servers would) on one database, migrations raced by servers
// starting together, the rate limiter on the database's clock, connections lost and replaced.
// Needs COFFER_TEST_PG_URL (a database whose user may CREATE DATABASE; scripts/test.sh starts a
// throwaway cluster and sets it); without it every test here is skipped, saying so.
#include "store/postgres/postgres_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "common/ids.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status_matchers.h"
#include "store/postgres/database_clock.h"
#include "store/postgres/pg_change_listener.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_migrations.h"
#include "store/store_conformance_test.h"

namespace coffer {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Not;

using store_testing::AgentCredential;
using store_testing::ChainIsIntact;
using store_testing::FakeSeal;
using store_testing::kT0;
using store_testing::MakeEvent;

constexpr UnixMicros kMinute = 60 * kMicrosPerSecond;
constexpr UnixMicros kWindow = 15 * kMinute;

const char* AdminUrl() {
  const char* url = std::getenv("COFFER_TEST_PG_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

// Databases this process created, dropped when the test program ends.
class Databases : public ::testing::Environment {
 public:
  static Databases* instance;

  // A new empty database; its URL, or "" on failure (with a test failure added).
  std::string Create() {
    const std::string name = "coffer_t_" + NewUuid().substr(0, 8) + NewUuid().substr(0, 8);
    auto admin = PgConnection::Connect(AdminUrl());
    if (!admin.has_value()) {
      ADD_FAILURE() << admin.error();
      return "";
    }
    const Status created = (*admin)->ExecScript("CREATE DATABASE " + name);
    if (!created.ok()) {
      ADD_FAILURE() << created;
      return "";
    }
    MutexLock lock(mu_);
    names_.push_back(name);
    return PostgresUrlWithDatabase(AdminUrl(), name);
  }

  void TearDown() override {
    if (AdminUrl() == nullptr) {
      return;
    }
    auto admin = PgConnection::Connect(AdminUrl());
    if (!admin.has_value()) {
      return;
    }
    MutexLock lock(mu_);
    for (const std::string& name : names_) {
      // Best-effort cleanup of a scratch database: the cluster is thrown away after the run.
      (void)(*admin)->ExecScript("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }

 private:
  Mutex mu_;
  std::vector<std::string> names_ COFFER_GUARDED_BY(mu_);
};
Databases* Databases::instance =
    static_cast<Databases*>(::testing::AddGlobalTestEnvironment(new Databases));

void SkipWithoutPostgres() {
  GTEST_SKIP() << "COFFER_TEST_PG_URL is not set: PostgreSQL tests skipped (scripts/test.sh "
                  "starts a throwaway cluster and sets it)";
}

// The conformance factory: one database per scratch directory, named in a file inside it so a
// reopen finds it again. The rate limiter takes the caller's `now`, because the suite moves
// time by hand; RateLimitUsesTheDatabaseClock below covers the deployment setting.
std::unique_ptr<Store> OpenForConformance(const std::string& dir) {
  if (AdminUrl() == nullptr) {
    SkipWithoutPostgres();
    return nullptr;
  }
  const std::string marker = dir + "/pg-url";
  std::string url;
  if (std::ifstream in(marker); in) {
    std::getline(in, url);
  } else {
    url = Databases::instance->Create();
    std::ofstream(marker) << url << "\n";
  }
  // Fewer connections than test threads, so leases are contended too.
  auto store = OpenPostgresStore(
      {.url = url, .pool_size = 8, .rate_limit_clock = PostgresStoreOptions::RuleClock::kCaller});
  if (!store.has_value()) {
    ADD_FAILURE() << store.error();
    return nullptr;
  }
  return std::move(store).value();
}

using store_testing::StoreConformanceTest;
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest,
                         ::testing::Values(store_testing::StoreBackend{"Postgres",
                                                                       OpenForConformance}),
                         store_testing::BackendName);

// --- what only PostgreSQL has ------------------------------------------------------------------

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (AdminUrl() == nullptr) {
      SkipWithoutPostgres();
      return;
    }
    url_ = Databases::instance->Create();
    ASSERT_FALSE(url_.empty());
  }

  // A store on this test's database, as one more server would open it.
  std::unique_ptr<PostgresStore> Open(int pool_size = 8) {
    auto store = PostgresStore::Open({.url = url_, .pool_size = pool_size});
    EXPECT_THAT(store, IsOk());
    return store.has_value() ? std::move(store).value() : nullptr;
  }

  // Runs `sql` on this test's database through a connection of its own.
  StatusOr<PgResult> Raw(const std::string& sql) {
    ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(url_));
    return conn->Exec(sql);
  }

  std::string url_;
};

TEST_F(PostgresStoreTest, MigrationsRunOnceWhenServersStartTogether) {
  constexpr int kServers = 6;
  std::barrier start(kServers);
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      if (!PostgresStore::Open({.url = url_, .pool_size = 1}).has_value()) {
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  auto applied = Raw("SELECT count(*), max(version) FROM schema_migrations");
  ASSERT_THAT(applied, IsOk());
  EXPECT_EQ(applied->Int(0, 0), static_cast<int64_t>(PgMigrations().size()));
  EXPECT_EQ(applied->Int(0, 1), PgMigrations().back().version);
}

TEST_F(PostgresStoreTest, UpgradingMakesVaultNamesUniqueAndDropsGrantsNoOneMayMake) {
  // A database as a Coffer with migrations 1-3 left it: vault names unique per owner only, and
  // policies naming an agent made by whoever owned the vault.
  {
    auto conn = PgConnection::Connect(url_);
    ASSERT_THAT(conn, IsOk());
    ASSERT_THAT(ApplyPgMigrations(**conn, PgMigrations().first(3)), IsOk());
    ASSERT_THAT(
        (*conn)->ExecScript(
            "INSERT INTO users (id, name, is_admin, created_at) VALUES ('admin', 'admin', true, 1),"
            " ('alice', 'alice', false, 2), ('mallory', 'mallory', false, 3);"
            "INSERT INTO agents (id, name, description, owner_id, created_at) VALUES"
            " ('admin-bot', 'bot', '', 'admin', 1), ('alice-bot', 'bot', '', 'alice', 1);"
            "INSERT INTO vaults (id, name, description, owner_id, created_at) VALUES"
            " ('11111111-a', 'prod', '', 'admin', 10), ('22222222-b', 'Prod', '', 'mallory', 20),"
            " ('33333333-c', 'PROD', '', 'alice', 20), ('44444444-d', 'dev', '', 'alice', 5);"
            "INSERT INTO policies (id, vault_id, principal_kind, principal_id, path_glob,"
            " permissions, created_at, created_by) VALUES"
            " ('p-admin', '11111111-a', 'agent', 'admin-bot', '**', 1, 1, 'admin'),"
            " ('p-owner', '44444444-d', 'agent', 'alice-bot', '**', 1, 2, 'alice'),"
            " ('p-admin-for-alice', '44444444-d', 'agent', 'alice-bot', '**', 1, 3, 'admin'),"
            " ('p-user', '22222222-b', 'user', 'alice', '**', 1, 4, 'mallory'),"
            " ('p-stolen', '22222222-b', 'agent', 'admin-bot', '**', 1, 5, 'mallory')"),
        IsOk());
  }
  std::vector<std::string> notices;
  auto store = PostgresStore::Open(
      {.url = url_, .on_migration_notice = [&](std::string_view n) { notices.emplace_back(n); }});
  ASSERT_THAT(store, IsOk());
  auto vaults = Raw("SELECT id || '|' || name FROM vaults ORDER BY id");
  ASSERT_THAT(vaults, IsOk());
  std::vector<std::string> names;
  for (int i = 0; i < vaults->rows(); ++i) names.push_back(vaults->Text(i, 0));
  EXPECT_EQ(names, (std::vector<std::string>{"11111111-a|prod", "22222222-b|Prod-22222222",
                                             "33333333-c|PROD-33333333", "44444444-d|dev"}));
  auto policies = Raw("SELECT id FROM policies ORDER BY id");
  ASSERT_THAT(policies, IsOk());
  std::vector<std::string> ids;
  for (int i = 0; i < policies->rows(); ++i) ids.push_back(policies->Text(i, 0));
  EXPECT_EQ(ids, (std::vector<std::string>{"p-admin", "p-admin-for-alice", "p-owner", "p-user"}));
  ASSERT_EQ(notices.size(), 3u);
  EXPECT_NE(notices[0].find("store migration 4: vault 22222222-b (owner mallory) renamed from "
                            "'Prod' to 'Prod-22222222'"),
            std::string::npos)
      << notices[0];
  EXPECT_NE(notices[1].find("'PROD' to 'PROD-33333333'"), std::string::npos) << notices[1];
  EXPECT_NE(notices[2].find("policy p-stolen of vault 22222222-b deleted"), std::string::npos)
      << notices[2];
  // Servers that follow the change feed drop what they keep of the renamed vaults.
  auto generation = Raw("SELECT generation FROM change_generation");
  ASSERT_THAT(generation, IsOk());
  EXPECT_EQ(generation->Int(0, 0), 1);
  EXPECT_THAT((*store)->InsertVault({NewUuid(), "pRoD", "", "bob", kT0}, nullptr),
              StatusIs(StatusCode::kAlreadyExists));
}

TEST_F(PostgresStoreTest, ANewerSchemaIsRefused) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_THAT(Raw("INSERT INTO schema_migrations VALUES (999, 'from the future', now())"), IsOk());
  auto store = PostgresStore::Open({.url = url_});
  EXPECT_THAT(store, StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(PostgresStoreTest, RateLimitUsesTheDatabaseClock) {
  auto a = Open();
  auto b = Open();  // a second server on the same database
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Each server passes its own, wildly wrong, idea of now; the database's clock decides, so
  // both count one window.
  const UnixMicros epoch = 0;                                      // 1970
  const UnixMicros far_future = 4'102'444'800 * kMicrosPerSecond;  // 2100
  for (auto* store : {a.get(), b.get(), a.get()}) {
    auto d = store->HitRateLimit("agent-self-rotate:203.0.113.5", kWindow, 3,
                                 store == a.get() ? epoch : far_future);
    ASSERT_THAT(d, IsOk());
    EXPECT_TRUE(d->allowed);
  }
  for (const UnixMicros now : {epoch, far_future, kT0 + 10 * kWindow}) {
    auto refused = b->HitRateLimit("agent-self-rotate:203.0.113.5", kWindow, 3, now);
    ASSERT_THAT(refused, IsOk());
    EXPECT_FALSE(refused->allowed) << "now=" << now;
    // The oldest hit was taken moments ago by the database's clock: a whole window to wait.
    EXPECT_GT(refused->retry_after, kWindow - kMinute);
    EXPECT_LE(refused->retry_after, kWindow);
  }
  // The hits are stamped with the database's time, not with either server's.
  auto db_now = a->DatabaseNow();
  ASSERT_THAT(db_now, IsOk());
  auto stamps = Raw("SELECT min(at), max(at) FROM rate_limit_hits");
  ASSERT_THAT(stamps, IsOk());
  EXPECT_GT(stamps->Int(0, 0), *db_now - kMinute);
  EXPECT_LE(stamps->Int(0, 1), *db_now);
}

TEST_F(PostgresStoreTest, ConcurrentRateLimitHitsFromTwoServersShareOneBudget) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreads = 16;
  std::barrier start(kThreads);
  std::atomic<int> allowed = 0;
  std::atomic<int> errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      start.arrive_and_wait();
      auto d = store.HitRateLimit("ip:198.51.100.1", kWindow, 3, t * kWindow);
      if (!d.has_value()) {
        ++errors;
      } else if (d->allowed) {
        ++allowed;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), 3);
}

TEST_F(PostgresStoreTest, CountUseFromTwoServersSharesEveryCounterAllOrNothing) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreads = 8;
  constexpr int kTries = 20;
  constexpr int64_t kAgentLimit = 45;
  constexpr UnixMicros kMinute = 60'000'000;
  std::barrier start(kThreads);
  std::atomic<int> allowed = 0;
  std::atomic<int> errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      start.arrive_and_wait();
      for (int i = 0; i < kTries; ++i) {
        // Each thread's own binding counter and the agent's shared one, in either order.
        std::vector<UseCounter> counters = {
            UseCounter{"agent:a1", kT0, kT0 + kMinute, kAgentLimit, 1},
            UseCounter{"binding:b" + std::to_string(t), kT0, kT0 + kMinute, 1000, 1}};
        if (i % 2 == 1) std::swap(counters[0], counters[1]);
        auto d = store.CountUse(counters);
        if (!d.has_value()) {
          ++errors;
        } else if (d->allowed) {
          ++allowed;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), kAgentLimit);
  auto counts = Raw("SELECT sum(count)::bigint FROM use_counters WHERE key LIKE 'binding:%'");
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ(counts->Int(0, 0), kAgentLimit);  // a refused call counted for no binding either
}

TEST_F(PostgresStoreTest, TwoServersWriteDenseVersionsCountExactlyAndExtendOneChain) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(a->InsertVault(v, nullptr), IsOk());
  NewSecretVersion limited;
  limited.vault_id = v.id;
  limited.path = "limited";
  limited.max_access_count = 20;
  auto put = b->PutSecretVersion(limited, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());

  constexpr int kThreads = 8;
  std::atomic<int> failures = 0;
  std::atomic<int> counted = 0;
  std::vector<std::vector<int64_t>> versions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      for (int i = 0; i < 20; ++i) {
        NewSecretVersion n;
        n.vault_id = v.id;
        n.path = "hot";
        AuditEvent put_event = MakeEvent("secret.write", v.id);
        auto p = store.PutSecretVersion(n, FakeSeal("t"), &put_event);
        if (p.has_value()) {
          versions[t].push_back(p->version);
        } else {
          ++failures;
        }
        AuditEvent read_event = MakeEvent("secret.read", v.id);
        auto c = store.ConsumeSecretAccess(put->secret_id, 1, &read_event);
        if (c.has_value()) {
          ++counted;
        } else if (c.error().code() != StatusCode::kGone) {
          ++failures;
        }
        if (!store.AppendAudit(MakeEvent("plain")).has_value()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(counted.load(), 20);
  std::vector<int64_t> all;
  for (const auto& vs : versions) {
    all.insert(all.end(), vs.begin(), vs.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(kThreads * 20);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(all, want);

  std::vector<AuditEvent> chain;
  const Status scanned = b->ScanAudit([&](const AuditEvent& e) {
    chain.push_back(e);
    return true;
  });
  ASSERT_THAT(scanned, IsOk());
  EXPECT_EQ(chain.size(), static_cast<size_t>(kThreads * 20 * 2 + 20));
  EXPECT_TRUE(ChainIsIntact(chain));
}

TEST_F(PostgresStoreTest, OfCheckAndSetWritersOnTwoServersExactlyOneWinsEachRound) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(a->InsertVault(v, nullptr), IsOk());
  constexpr int kThreads = 8;
  for (int64_t round = 0; round < 4; ++round) {  // round 0: a race to create
    std::atomic<int> won = 0;
    std::atomic<int> refused = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
        NewSecretVersion n;
        n.vault_id = v.id;
        n.path = "cas";
        n.expected_latest = round;
        auto p = store.PutSecretVersion(n, FakeSeal("t"), nullptr);
        if (p.has_value()) {
          ++won;
        } else if (p.error().code() == StatusCode::kFailedPrecondition) {
          ++refused;
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), kThreads - 1) << "round " << round;
  }
  auto versions = b->ListSecretVersions(v.id, "cas");
  ASSERT_THAT(versions, IsOk());
  EXPECT_EQ(versions->size(), 4u);
}

TEST_F(PostgresStoreTest, AuditEventsCannotBeRewritten) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(store->AppendAudit(MakeEvent("kept")), IsOk());
  EXPECT_FALSE(Raw("UPDATE audit_events SET action = 'forged'").has_value());
  EXPECT_FALSE(Raw("DELETE FROM audit_events").has_value());
  EXPECT_FALSE(Raw("TRUNCATE audit_events").has_value());
  auto events = store->ListAudit({});
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].action, "kept");
}

TEST_F(PostgresStoreTest, ConnectionsClosedByTheServerAreReplaced) {
  auto store = Open(4);
  ASSERT_NE(store, nullptr);
  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(store->InsertVault(v, nullptr), IsOk());
  // Warm every pooled connection, then have the server close them all (as a restart would).
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { (void)store->GetVault(v.id); });  // only opens a connection
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ASSERT_THAT(Raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE application_name = 'coffer' AND pid <> pg_backend_pid()"
                  " AND datname = current_database()"),
              IsOk());
  for (int i = 0; i < 8; ++i) {
    EXPECT_THAT(store->GetVault(v.id), IsOk()) << i;
    EXPECT_THAT(store->AppendAudit(MakeEvent("after.restart")), IsOk()) << i;
  }
}

TEST_F(PostgresStoreTest, DatabaseClockFollowsTheDatabase) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto clock =
      DatabaseClock::Start([&] { return store->DatabaseNow(); }, std::chrono::milliseconds(50));
  ASSERT_THAT(clock, IsOk());
  auto db_now = store->DatabaseNow();
  ASSERT_THAT(db_now, IsOk());
  EXPECT_LT(std::abs((*clock)->Now() - *db_now), kMicrosPerSecond);
}

// --- the change feed across servers ------------------------------------------------------------

// Records what a feed publishes and what a listener says of its state; waits for either.
class FeedRecorder {
 public:
  explicit FeedRecorder(ChangeFeed& feed)
      : subscription_(feed.Watch([this](const StoreChange& c) {
          {
            MutexLock lock(mu_);
            changes_.push_back(c);
          }
          published_.NotifyAll();
        })) {}

  // True once `change` has been published, within `deadline`.
  bool Saw(const StoreChange& change,
           std::chrono::milliseconds deadline = std::chrono::milliseconds(1000)) {
    MutexLock lock(mu_);
    return published_.WaitFor(mu_, deadline, [&]() COFFER_REQUIRES(mu_) {
      return std::find(changes_.begin(), changes_.end(), change) != changes_.end();
    });
  }
  void Clear() {
    MutexLock lock(mu_);
    changes_.clear();
  }

  // Polls `condition` (which nothing announces) until it holds or `deadline` passes.
  template <typename Condition>
  static bool Within(std::chrono::milliseconds deadline, Condition condition) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > end) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

 private:
  Mutex mu_;
  CondVar published_;  // a change was recorded
  std::vector<StoreChange> changes_ COFFER_GUARDED_BY(mu_);
  ChangeFeed::Subscription subscription_;
};

class PgChangeFeedTest : public PostgresStoreTest {
 protected:
  // A store that follows the others' changes, as a server opens it; on_follow_state goes to
  // states_.
  std::unique_ptr<PostgresStore> OpenFollowing() {
    auto store = PostgresStore::Open({.url = url_,
                                      .pool_size = 4,
                                      .follow_changes = true,
                                      .on_follow_state = [this](const Status& s) {
                                        MutexLock lock(mu_);
                                        states_.push_back(s.ok());
                                      }});
    EXPECT_THAT(store, IsOk());
    return store.has_value() ? std::move(store).value() : nullptr;
  }
  std::vector<bool> States() {
    MutexLock lock(mu_);
    return states_;
  }

  Mutex mu_;
  std::vector<bool> states_ COFFER_GUARDED_BY(mu_);  // true for "following", false for "lost"
};

TEST_F(PgChangeFeedTest, ChangesThroughOneServerReachAnothersFeedWithinASecond) {
  auto a = Open();
  auto b = OpenFollowing();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(Open()->Changes().Current()) << "a store that does not follow is never current";
  ASSERT_TRUE(
      FeedRecorder::Within(std::chrono::seconds(5), [&] { return b->Changes().Current(); }));
  FeedRecorder seen(b->Changes());

  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(a->InsertVault(v, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Vault(v.id)));
  const Agent agent{NewUuid(), "worker",     "",           "owner-1",
                    kT0,       std::nullopt, std::nullopt, std::nullopt};
  ASSERT_THAT(a->InsertAgent(agent, {store_testing::AgentCredential(agent.id, "k1")}, nullptr),
              IsOk());
  ASSERT_THAT(a->RevokeAgent(agent.id, kT0, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Principal(PrincipalKind::kAgent, agent.id)));
  ASSERT_THAT(a->RevokeCredential("k1", kT0, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Credential("k1")));
  // A change that rolled back was never announced: only committed changes are.
  seen.Clear();
  EXPECT_THAT(a->DeleteVault(NewUuid(), nullptr), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(a->DeleteVault(v.id, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Vault(v.id)));
  EXPECT_TRUE(b->Changes().Current());
  EXPECT_EQ(States(), std::vector<bool>{true});
}

TEST_F(PgChangeFeedTest, ACounterAheadOfTheNotificationsMakesTheFeedReportEverything) {
  auto b = OpenFollowing();
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(
      FeedRecorder::Within(std::chrono::seconds(5), [&] { return b->Changes().Current(); }));
  FeedRecorder seen(b->Changes());
  // A change counted but never notified (as if its notification were lost).
  ASSERT_THAT(Raw("UPDATE change_generation SET generation = generation + 1"), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Everything()));
}

TEST_F(PgChangeFeedTest, AKilledListeningConnectionIsDistrustedAtOnceAndReplaced) {
  auto a = Open();
  auto b = OpenFollowing();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(
      FeedRecorder::Within(std::chrono::seconds(5), [&] { return b->Changes().Current(); }));
  FeedRecorder seen(b->Changes());
  auto killed =
      Raw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
          " WHERE application_name = 'coffer-change-feed' AND datname = current_database()");
  ASSERT_THAT(killed, IsOk());
  ASSERT_EQ(killed->Int(0, 0), 1);
  // Whatever is changed now may never be notified to b: b must not vouch for its memory until it
  // listens again and has reported everything.
  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(a->InsertVault(v, nullptr), IsOk());
  EXPECT_TRUE(FeedRecorder::Within(std::chrono::milliseconds(kMaxChangeDelay),
                                   [&] { return !b->Changes().Current(); }));
  ASSERT_TRUE(
      FeedRecorder::Within(std::chrono::seconds(10), [&] { return b->Changes().Current(); }));
  EXPECT_TRUE(seen.Saw(StoreChange::Everything(), std::chrono::milliseconds(0)));
  EXPECT_EQ(States(), (std::vector<bool>{true, false, true}));
  // And it follows again.
  ASSERT_THAT(a->DeleteVault(v.id, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Vault(v.id)));
}

// A secret written on server A wakes what waits on it on server B, without moving the counter
// behind the caches (no gap, so no kEverything).
TEST_F(PgChangeFeedTest, ASecretWrittenByAnotherServerIsReported) {
  auto a = Open();
  auto b = OpenFollowing();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(
      FeedRecorder::Within(std::chrono::seconds(5), [&] { return b->Changes().Current(); }));
  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(a->InsertVault(v, nullptr), IsOk());
  FeedRecorder seen(b->Changes());
  NewSecretVersion in;
  in.vault_id = v.id;
  in.path = "db/password";
  in.type = SecretType::kPassword;
  in.created_at = kT0;
  in.created_by = "owner-1";
  auto seal = [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
    return std::vector<uint8_t>{1, 2, 3};
  };
  ASSERT_THAT(a->PutSecretVersion(in, seal, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Secret(v.id, "db/password")));
  ASSERT_THAT(a->DisableSecretVersion(v.id, "db/password", 1, kT0 + 1, nullptr), IsOk());
  EXPECT_TRUE(seen.Saw(StoreChange::Secret(v.id, "db/password")));
  EXPECT_FALSE(seen.Saw(StoreChange::Everything(), std::chrono::milliseconds(0)));
}

TEST(ChangePayloadTest, RoundTripsAndRefusesAnythingElse) {
  for (const StoreChange& c :
       {StoreChange::Credential("abc123"), StoreChange::Principal(PrincipalKind::kUser, "u-1"),
        StoreChange::Principal(PrincipalKind::kAgent, "a-1"), StoreChange::Vault("v-1"),
        StoreChange::Policies("v-2"), StoreChange::Secret("v-3", "api-keys/openai"),
        StoreChange::Binding("b-1", "a-1"), StoreChange::Everything()}) {
    EXPECT_EQ(ParseChangePayload(ChangePayload(c)), c) << ChangePayload(c);
  }
  for (std::string_view bad :
       {"", "vault", "vault ", "vault a b", "principal robot x", "credential \x01", "secret s-1",
        "secret v-1 a b", "binding b-1", "everything else"}) {
    EXPECT_EQ(ParseChangePayload(bad), std::nullopt) << bad;
  }
}

TEST(DatabaseClockTest, AddsMonotonicTimeToTheLastReading) {
  FakeMonotonicClock local;
  std::atomic<int> readings = 0;
  const UnixMicros skewed = kT0;  // a database whose clock says 2023, whatever ours says
  auto clock = DatabaseClock::Start(
      [&]() -> StatusOr<UnixMicros> {
        ++readings;
        return skewed;
      },
      std::chrono::hours(1), local);
  ASSERT_THAT(clock, IsOk());
  EXPECT_EQ((*clock)->Now(), skewed);
  local.Advance(std::chrono::milliseconds(20));
  EXPECT_EQ((*clock)->Now(), skewed + 20'000) << "time moves on between readings";
  EXPECT_EQ(readings.load(), 1);
}

TEST(DatabaseClockTest, EachRefreshTakesANewReadingAndAFailedOneKeepsTheLast) {
  FakeMonotonicClock local;
  std::atomic<UnixMicros> database = kT0;
  std::atomic<bool> down = false;
  auto clock = DatabaseClock::Start(
      [&]() -> StatusOr<UnixMicros> {
        if (down.load()) {
          return Err(UnavailableError("down"));
        }
        return database.load();
      },
      std::chrono::seconds(1), local);
  ASSERT_THAT(clock, IsOk());
  ASSERT_TRUE(local.AwaitWaiting(1));
  database = kT0 + 60 * kMicrosPerSecond;  // the database's clock was stepped meanwhile
  uint64_t waits = local.waits();
  local.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(local.AwaitWaits(waits + 1));  // refreshed, and waiting for the next one
  EXPECT_EQ((*clock)->Now(), kT0 + 60 * kMicrosPerSecond);

  down = true;
  waits = local.waits();
  local.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(local.AwaitWaits(waits + 1));
  EXPECT_EQ((*clock)->Now(), kT0 + 61 * kMicrosPerSecond) << "the last reading, extrapolated";
}

TEST(DatabaseClockTest, AFailedFirstReadingIsAnError) {
  auto clock =
      DatabaseClock::Start([]() -> StatusOr<UnixMicros> { return Err(UnavailableError("down")); },
                           std::chrono::seconds(1));
  EXPECT_THAT(clock, StatusIs(StatusCode::kUnavailable));
}

TEST(PostgresUrlTest, RecognizesAndRedacts) {
  EXPECT_TRUE(IsPostgresUrl("postgres://u@h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgresql://u@h/db"));
  EXPECT_FALSE(IsPostgresUrl("sqlite:/tmp/x.db"));
  EXPECT_EQ(RedactPostgresUrl("postgres://coffer:s3cret@db:5432/coffer?sslmode=require"),
            "postgres://coffer:***@db:5432/coffer?sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgres://db/coffer?user=a&password=s3cret&sslmode=require"),
            "postgres://db/coffer?user=a&password=***&sslmode=require");
  EXPECT_EQ(RedactPostgresUrl("postgres://coffer@db/coffer"), "postgres://coffer@db/coffer");
}

TEST(PostgresUrlTest, BadOptionsAreRefusedBeforeConnecting) {
  EXPECT_THAT(OpenPostgresStore({.url = "mysql://x"}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenPostgresStore({.url = "postgres://127.0.0.1:1/x?pool_size=0"}),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenPostgresStore({.url = "postgres://127.0.0.1:1/x?pool_size=many"}),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST(PostgresUrlTest, AnUnreachableDatabaseIsUnavailableAndTheMessageHasNoPassword) {
  auto store =
      OpenPostgresStore({.url = "postgres://coffer:hunter2@127.0.0.1:1/x?connect_timeout=2"});
  ASSERT_THAT(store, StatusIs(StatusCode::kUnavailable));
  EXPECT_THAT(store, StatusIs(_, Not(HasSubstr("hunter2"))));
}

// Two servers dispatching webhook events from one database: each event is queued once, and
// each due delivery is leased to one of them.
TEST_F(PostgresStoreTest, TwoServersQueueEachWebhookEventOnceAndLeaseEachDeliveryOnce) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Vault vault;
  vault.id = NewUuid();
  vault.name = "hooks";
  vault.owner_id = "owner-1";
  vault.created_at = 1;
  ASSERT_THAT(a->InsertVault(vault, nullptr), IsOk());
  WebhookEndpoint w;
  w.id = NewUuid();
  w.vault_id = vault.id;
  w.url = "https://example.com/h";
  w.events = {"secret.version_created"};
  w.sealed_secret = {1};
  w.created_by = "owner-1";
  w.created_at = 1;
  ASSERT_THAT(a->InsertWebhook(w, nullptr), IsOk());
  constexpr int kThreads = 8;
  constexpr int kRounds = 12;
  std::barrier start(kThreads);
  std::atomic<int> errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      start.arrive_and_wait();
      for (int round = 0; round < kRounds; ++round) {
        auto cursor = store.GetWebhookCursor();
        if (!cursor.has_value()) {
          ++errors;
          continue;
        }
        WebhookDelivery d;
        d.id = fmt::format("msg_{}_{}", *cursor + 1, t);
        d.webhook_id = w.id;
        d.vault_id = vault.id;
        d.event_type = "secret.version_created";
        d.audit_seq = *cursor + 1;
        d.payload_json = "{}";
        d.created_at = 1;
        d.next_attempt_at = 1;
        Status s = store.EnqueueWebhookDeliveries({d}, *cursor, *cursor + 1, nullptr);
        if (!s.ok() && s.code() != StatusCode::kAborted) ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(errors.load(), 0);
  auto cursor = a->GetWebhookCursor();
  ASSERT_THAT(cursor, IsOk());
  auto queued = b->ListWebhookDeliveries(w.id, 0);
  ASSERT_THAT(queued, IsOk());
  ASSERT_EQ(static_cast<int64_t>(queued->size()), *cursor);
  std::set<int64_t> seqs;
  for (const WebhookDelivery& d : *queued) seqs.insert(d.audit_seq);
  EXPECT_EQ(static_cast<int64_t>(seqs.size()), *cursor);

  // Both servers claim at once, one delivery per call: every delivery goes to exactly one.
  std::atomic<int> claimed = 0;
  std::mutex mu;
  std::set<std::string> ids;
  threads.clear();
  std::barrier claim_start(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      claim_start.arrive_and_wait();
      for (;;) {
        auto got = store.ClaimWebhookDeliveries(fmt::format("sender-{}", t), 10, 1000, 1);
        if (!got.has_value()) {
          ++errors;
          return;
        }
        if (got->empty()) return;
        std::lock_guard lock(mu);
        for (const WebhookDelivery& d : *got) {
          ++claimed;
          ids.insert(d.id);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.load(), static_cast<int>(queued->size()));
  EXPECT_EQ(ids.size(), queued->size());
}

TEST_F(PostgresStoreTest, UsageFlushesFromTwoServersAddUp) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Vault v{NewUuid(), "v", "", "owner-1", kT0};
  ASSERT_THAT(a->InsertVault(v, nullptr), IsOk());
  NewSecretVersion n;
  n.vault_id = v.id;
  n.path = "shared";
  auto put = a->PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  constexpr int kThreads = 8;
  constexpr int kFlushes = 30;
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      for (int i = 0; i < kFlushes; ++i) {
        UsageBatch batch;
        batch.reads.push_back(
            {put->secret_id, 1, 3, kT0 + t * 1000 + i, "server-" + std::to_string(t)});
        if (!store.ApplyUsage(batch).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = b->GetSecretVersion(v.id, "shared", VersionSelector::Exact(1));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->access_count, 3 * kThreads * kFlushes);  // increments, not overwrites
  EXPECT_EQ(got->secret_read_count, 3 * kThreads * kFlushes);
  EXPECT_EQ(got->last_read_at, kT0 + (kThreads - 1) * 1000 + kFlushes - 1);
  EXPECT_EQ(got->last_read_by, "server-" + std::to_string(kThreads - 1));
}

TEST_F(PostgresStoreTest, TwoServersAuditTheEndOfAGraceWindowOnce) {
  auto a = Open(4);
  auto b = Open(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Agent agent{NewUuid(), "graced",     "",           "owner-1",
                    kT0,       std::nullopt, std::nullopt, std::nullopt};
  ASSERT_THAT(a->InsertAgent(agent, {AgentCredential(agent.id, "old-key")}, nullptr), IsOk());
  ASSERT_THAT(b->RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kAgent,
                                               .principal_id = agent.id,
                                               .fresh = {AgentCredential(agent.id, "new-key")},
                                               .at = kT0,
                                               .keys_until = kT0 + 10},
                                 nullptr),
              IsOk());
  std::atomic<int> ended = 0;
  std::atomic<int> unexpected = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 == 0 ? static_cast<Store&>(*a) : *b;
      AuditEvent event = MakeEvent("agent.key_grace_ended");
      Status s = store.EndKeyGrace("old-key", kT0 + 10, &event);
      if (s.ok()) {
        ++ended;
      } else if (s.code() != StatusCode::kAborted) {
        ++unexpected;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ended.load(), 1);
  EXPECT_EQ(unexpected.load(), 0);
  auto events = a->ListAudit(AuditQuery{.action = "agent.key_grace_ended"});
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(events->size(), 1u);
}

}  // namespace
}  // namespace coffer
