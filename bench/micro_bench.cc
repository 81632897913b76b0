// Coffer's micro benchmarks (Google Benchmark): the CPU cost of the crypto on every request
// (AEAD seal/open 64 B–64 KiB, API-key check, JWT verification), policy path matching, and the
// store's put / get / counted get on SQLite and PostgreSQL. Not run in CI (only built); run by
// hand (COFFER_BENCH_PG_URL for the PostgreSQL runs, see PgAdminUrl below):
//   ninja -C build-bench coffer_micro_bench && build-bench/bench/coffer_micro_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/random.h"
#include "common/secret_buffer.h"
#include "crypto/aead.h"
#include "crypto/api_token.h"
#include "crypto/jwt.h"
#include "model/path_glob.h"
#include "service/auth_service.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace coffer {
namespace {

SecretBuffer RandomKey(Random& random) {
  SecretBuffer key(kAeadKeySize);
  if (!random.Fill({key.data(), key.size()}).ok()) {
    std::abort();
  }
  return key;
}

void BM_AeadSeal(benchmark::State& state) {
  SystemRandom random;
  SecretBuffer key = RandomKey(random);
  std::vector<uint8_t> plaintext(static_cast<size_t>(state.range(0)), 0x5a);
  std::vector<uint8_t> aad = SecretAad("vault-id", "secret-id", 1);
  for (auto _ : state) {
    auto blob = AeadSeal(key, 1, plaintext, aad, random);
    benchmark::DoNotOptimize(blob);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AeadSeal)->RangeMultiplier(8)->Range(64, 64 << 10);

void BM_AeadOpen(benchmark::State& state) {
  SystemRandom random;
  SecretBuffer key = RandomKey(random);
  std::vector<uint8_t> plaintext(static_cast<size_t>(state.range(0)), 0x5a);
  std::vector<uint8_t> aad = SecretAad("vault-id", "secret-id", 1);
  std::vector<uint8_t> blob = AeadSeal(key, 1, plaintext, aad, random).value();
  for (auto _ : state) {
    auto opened = AeadOpen(key, blob, aad);
    benchmark::DoNotOptimize(opened);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AeadOpen)->RangeMultiplier(8)->Range(64, 64 << 10);

// What checking a presented API key costs before any lookup: shape + CRC, HMAC of the secret
// under the pepper, constant-time comparison with the stored HMAC.
void BM_ApiKeyVerify(benchmark::State& state) {
  SystemRandom random;
  SecretBuffer pepper = RandomKey(random);
  MintedToken minted = MintToken(kTokenKindApiKey, pepper, random).value();
  for (auto _ : state) {
    auto parsed = ParseToken(minted.token.view());
    std::vector<uint8_t> hmac = HmacSecret(pepper, parsed->secret.view());
    bool ok = SecretBuffer(hmac.data(), hmac.size()).Equals(minted.secret_hmac);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_ApiKeyVerify);

void BM_JwtVerify(benchmark::State& state) {
  SystemRandom random;
  SecretBuffer key = RandomKey(random);
  SystemClock clock;
  UnixMicros now = clock.Now();
  JwtClaims claims{
      "principal-id", "agent", "public-id", "jti", now, now + 600 * kMicrosPerSecond, {}};
  const std::vector<uint8_t> public_key = Ed25519PublicKey(key).value();
  const JwtVerificationKey verify{Ed25519Thumbprint(public_key), public_key};
  std::string token = SignJwt(claims, verify.kid, key).value();
  for (auto _ : state) {
    auto verified = VerifyJwt(token, std::span(&verify, 1), now);
    benchmark::DoNotOptimize(verified);
  }
}
BENCHMARK(BM_JwtVerify);

// One policy rule against one path; a request is checked against every rule of the principal.
void BM_PolicyGlobMatch(benchmark::State& state) {
  const std::vector<std::string> globs = {"prod/*", "prod/**/openai", "api-keys/**", "*/db-*"};
  const std::string path = "prod/services/billing/api-keys/openai";
  for (auto _ : state) {
    for (const std::string& glob : globs) {
      benchmark::DoNotOptimize(PathGlobMatches(glob, path));
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(globs.size()));
}
BENCHMARK(BM_PolicyGlobMatch);

// The store the store benchmarks run on: their argument ("pg:0" SQLite, "pg:1" PostgreSQL).
enum Backend : int64_t { kSqlite = 0, kPostgres = 1 };

// For the PostgreSQL runs: a database URL whose user may CREATE DATABASE (what
// `scripts/pg-cluster.sh start` prints as COFFER_TEST_PG_URL). Unset: those runs are skipped.
const char* PgAdminUrl() {
  const char* url = std::getenv("COFFER_BENCH_PG_URL");
  return url != nullptr && *url != '\0' ? url : nullptr;
}

// A fresh store with an admin and one vault, shared by the store benchmarks' threads; created
// by the first thread, removed after the last. SQLite: a file in a temp dir. PostgreSQL: a new
// database on the server of COFFER_BENCH_PG_URL, dropped afterwards.
struct StoreFixture {
  std::filesystem::path dir;
  std::string pg_database;
  SystemRandom random;
  SystemClock clock;
  std::unique_ptr<Store> store;
  std::string vault_id;
  std::string admin_id;

  explicit StoreFixture(Backend backend) {
    if (backend == kPostgres) {
      pg_database = "coffer_bench_" + NewUuid().substr(0, 8);
      auto admin = PgConnection::Connect(PgAdminUrl());
      if (!admin.has_value() || !(*admin)->ExecScript("CREATE DATABASE " + pg_database).ok()) {
        std::abort();
      }
      store = std::move(OpenPostgresStore(PostgresStoreOptions{.url = PostgresUrlWithDatabase(
                                                                   PgAdminUrl(), pg_database)})
                            .value());
    } else {
      dir = std::filesystem::temp_directory_path() / ("coffer-bench-" + NewUuid());
      std::filesystem::create_directories(dir);
      store = std::move(OpenSqliteStore(SqliteStoreOptions{.path = (dir / "db").string()}).value());
    }
    SecretBuffer root_key = RandomKey(random);
    admin_id = InitializeStore(*store, root_key, random, clock).value().admin.id;
    vault_id = NewUuid();
    if (!store->InsertVault(Vault{vault_id, "bench", "", admin_id, clock.Now()}, nullptr).ok()) {
      std::abort();
    }
  }
  ~StoreFixture() {
    store.reset();
    if (!pg_database.empty()) {
      if (auto admin = PgConnection::Connect(PgAdminUrl()); admin.has_value()) {
        // Best-effort cleanup of the benchmark's scratch database.
        (void)(*admin)->ExecScript("DROP DATABASE IF EXISTS " + pg_database + " WITH (FORCE)");
      }
    }
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  // Appends a version of `path` with a 64-byte ciphertext; aborts on failure.
  SecretVersion Put(const std::string& path, int64_t max_access_count) {
    NewSecretVersion version;
    version.vault_id = vault_id;
    version.path = path;
    version.max_access_count = max_access_count;
    version.created_at = clock.Now();
    version.created_by = admin_id;
    auto put = store->PutSecretVersion(
        version,
        [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
          return std::vector<uint8_t>(64, 0x5a);
        },
        nullptr);
    if (!put.has_value()) {
      std::abort();
    }
    return *put;
  }
};

std::unique_ptr<StoreFixture> g_store;

void SetUpStore(const benchmark::State& state) {
  const auto backend = static_cast<Backend>(state.range(0));
  if (state.thread_index() == 0 && (backend == kSqlite || PgAdminUrl() != nullptr)) {
    g_store = std::make_unique<StoreFixture>(backend);
  }
}
void SetUpStoreWithSecret(const benchmark::State& state) {
  SetUpStore(state);
  if (state.thread_index() == 0 && g_store != nullptr) {
    g_store->Put("bench/get", 0);
  }
}
// False (the run skipped) when its store could not be set up: PostgreSQL without a URL.
bool HaveStore(benchmark::State& state) {
  if (g_store == nullptr) {
    state.SkipWithError("set COFFER_BENCH_PG_URL to run the PostgreSQL store benchmarks");
    return false;
  }
  return true;
}
// Both stores, one and eight threads.
void StoreRuns(benchmark::internal::Benchmark* b) {
  b->ArgName("pg")->Arg(kSqlite)->Arg(kPostgres)->Threads(1)->Threads(8)->UseRealTime();
}
void TearDownStore(const benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_store.reset();
  }
}

// Each put is a durable commit; with several threads the group-commit writer batches them.
void BM_StorePut(benchmark::State& state) {
  if (!HaveStore(state)) {
    return;
  }
  std::string path = "bench/put-" + std::to_string(state.thread_index());
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_store->Put(path, 0));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StorePut)->Setup(SetUpStore)->Teardown(TearDownStore)->Apply(StoreRuns);

void BM_StoreGetLatest(benchmark::State& state) {
  if (!HaveStore(state)) {
    return;
  }
  for (auto _ : state) {
    auto got = g_store->store->GetSecretVersion(g_store->vault_id, "bench/get",
                                                VersionSelector::LatestEnabled());
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreGetLatest)
    ->Setup(SetUpStoreWithSecret)
    ->Teardown(TearDownStore)
    ->Apply(StoreRuns);

// A counted read: the read plus the durable increment of access_count.
void BM_StoreCountedGet(benchmark::State& state) {
  if (!HaveStore(state)) {
    return;
  }
  std::string path = "bench/counted-" + std::to_string(state.thread_index());
  SecretVersion version = g_store->Put(path, 1'000'000'000);
  for (auto _ : state) {
    auto got =
        g_store->store->GetSecretVersion(g_store->vault_id, path, VersionSelector::LatestEnabled());
    auto count = g_store->store->ConsumeSecretAccess(version.secret_id, version.version, nullptr);
    benchmark::DoNotOptimize(got);
    benchmark::DoNotOptimize(count);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreCountedGet)->Setup(SetUpStore)->Teardown(TearDownStore)->Apply(StoreRuns);

}  // namespace
}  // namespace coffer

BENCHMARK_MAIN();
