// OpenStore: the one place that picks a store backend from the configuration.
#include "cli/store_factory.h"

#include <chrono>

#include "store/postgres/database_clock.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer::cli {

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

StatusOr<OpenedStore> OpenStore(const ServerConfig& config) {
  OpenedStore opened;
  opened.description = StoreDescription(config);
  if (IsPostgresUrl(config.store)) {
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> pg,
                     PostgresStore::Open(PostgresStoreOptions{.url = config.store}));
    ASSIGN_OR_RETURN(
        opened.clock,
        DatabaseClock::Start([store = pg.get()] { return store->DatabaseNow(); }, kClockRefresh));
    opened.store = std::move(pg);
    return opened;
  }
  ASSIGN_OR_RETURN(opened.store, OpenSqliteStore(SqliteStoreOptions{.path = config.StorePath()}));
  opened.clock = std::make_unique<SystemClock>();
  return opened;
}

}  // namespace coffer::cli
