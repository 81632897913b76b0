// OpenStore: the one place that picks a store backend from the configuration.
#include "server/store_factory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/exit_codes.h"
#include "crypto/migrating_key_provider.h"
#include "store/postgres/database_clock.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer::server {

namespace {

// How often a server re-reads the database's clock. Between readings it adds monotonic time,
// so the only drift is this machine's oscillator against the database's over this interval.
constexpr std::chrono::seconds kClockRefresh{30};

}  // namespace

bool IsPostgresStore(const ServerConfig& config) { return IsPostgresUrl(config.store); }

bool StoreUrlHasPassword(std::string_view url) {
  return IsPostgresUrl(url) && RedactPostgresUrl(url) != url;
}

std::string StoreDescription(const ServerConfig& config) {
  return IsPostgresUrl(config.store) ? RedactPostgresUrl(config.store) : config.StorePath();
}

StatusOr<std::unique_ptr<SqliteStoreLock>> LockStore(const ServerConfig& config,
                                                     std::string_view holder) {
  if (IsPostgresUrl(config.store)) {
    return std::unique_ptr<SqliteStoreLock>();
  }
  return SqliteStoreLock::Acquire(config.StorePath(), holder);
}

StatusOr<OpenedStore> OpenStore(const ServerConfig& config, StoreUse use, MigrationNotice notice) {
  if (!notice) {
    notice = [](std::string_view line) { fmt::print(stderr, "warning: {}\n", line); };
  }
  OpenedStore opened;
  opened.description = StoreDescription(config);
  if (IsPostgresUrl(config.store)) {
    PostgresStoreOptions options{.url = config.store, .on_migration_notice = std::move(notice)};
    if (use == StoreUse::kServer) {
      // Credentials, vaults and policies are served from memory only while this server hears
      // of every change the others make (docs/multi-node.md).
      options.follow_changes = true;
      options.on_follow_state = [](const Status& s) {
        if (s.ok()) {
          spdlog::info("following the other servers' changes; in-memory caches in use");
        } else {
          spdlog::warn(
              "lost track of the other servers' changes ({}); credentials, vaults and "
              "policies are read from the database until it is back",
              s.message());
        }
      };
    }
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> pg, PostgresStore::Open(options));
    ASSIGN_OR_RETURN(
        opened.clock,
        DatabaseClock::Start([store = pg.get()] { return store->DatabaseNow(); }, kClockRefresh));
    opened.store = std::move(pg);
    return opened;
  }
  ASSIGN_OR_RETURN(opened.store,
                   OpenSqliteStore(SqliteStoreOptions{.path = config.StorePath(),
                                                      .on_migration_notice = std::move(notice)}));
  opened.clock = std::make_unique<SystemClock>();
  return opened;
}

namespace {

// The provider of --root-key-uri, COFFER_ROOT_KEY or the key file, as RootKeyProviderFor says.
StatusOr<std::unique_ptr<KeyProvider>> CurrentRootKeyProvider(const ServerConfig& config) {
  const std::chrono::milliseconds timeout(config.key_provider_timeout_ms);
  if (!config.root_key_uri.empty()) return KeyProviderForUri(config.root_key_uri, timeout);
  if (std::getenv("COFFER_ROOT_KEY") != nullptr && config.root_key_file.empty()) {
    return NewEnvKeyProvider("COFFER_ROOT_KEY");
  }
  return NewFileKeyProvider(config.RootKeyFile());
}

}  // namespace

StatusOr<std::unique_ptr<KeyProvider>> RootKeyProviderFor(const ServerConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<KeyProvider> current, CurrentRootKeyProvider(config));
  if (config.next_root_key_uri.empty()) return current;
  ASSIGN_OR_RETURN(std::unique_ptr<KeyProvider> next,
                   KeyProviderForUri(config.next_root_key_uri,
                                     std::chrono::milliseconds(config.key_provider_timeout_ms)));
  return NewMigratingKeyProvider(std::move(current), std::move(next));
}

std::variant<InitializedStore, int> OpenStoreAndKeyring(const ServerConfig& config, StoreUse use,
                                                        MigrationNotice notice) {
  auto store = OpenStore(config, use, std::move(notice));
  if (!store.has_value()) {
    fmt::print(stderr, "error: cannot open store {}: {}\n", StoreDescription(config),
               store.error().ToString());
    return kExitError;
  }
  auto keys = store->store->LoadKeys();
  if (!keys.has_value()) {
    fmt::print(stderr, "error: cannot read the keyring: {}\n", keys.error().ToString());
    return kExitError;
  }
  return InitializedStore{std::move(*store), std::move(*keys)};
}

std::variant<InitializedStore, int> OpenInitializedStore(const ServerConfig& config, StoreUse use,
                                                         MigrationNotice notice) {
  auto opened = OpenStoreAndKeyring(config, use, std::move(notice));
  if (auto* o = std::get_if<InitializedStore>(&opened); o != nullptr && o->keys.empty()) {
    fmt::print(stderr, "error: {} is not initialized; run `coffer init --data-dir {}` first\n",
               o->store.description, config.data_dir);
    return kExitError;
  }
  return opened;
}

}  // namespace coffer::server
