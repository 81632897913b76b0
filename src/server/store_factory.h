// Opens the store a server configuration names: PostgreSQL for a postgres:// URL (with the
// database's clock for every rule), else the embedded SQLite file.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "crypto/key_provider.h"
#include "server/config.h"
#include "store/migration_step.h"
#include "store/sqlite/sqlite_store_lock.h"
#include "store/store.h"

namespace coffer::server {

struct OpenedStore {
  std::unique_ptr<Store> store;
  // The clock every rule follows (expiry, policy expiry, JWT lifetimes, audit times): this
  // machine's for SQLite; for PostgreSQL the database's, so servers with skewed clocks agree.
  // Declared after `store`, so it is destroyed first (it may read the store).
  std::unique_ptr<Clock> clock;
  // What to call the store in messages: the SQLite path, or the URL without its password.
  std::string description;
};

// True when `config.store` is a PostgreSQL URL.
bool IsPostgresStore(const ServerConfig& config);

// True when `url` is a postgres:// URL carrying a password (in its user info or a password=
// parameter): one that must not be given on a command line.
bool StoreUrlHasPassword(std::string_view url);

// What to call `config.store` in messages (the URL without its password).
std::string StoreDescription(const ServerConfig& config);

// Who opens the store.
enum class StoreUse : uint8_t {
  kCommand,  // init, keys, migrate: for a while, for one job
  kServer,   // `coffer server`: on PostgreSQL it follows what the other servers change
};

// Opens `config.store` ("", sqlite:PATH, PATH, or postgres://… / postgresql://…), creating the
// schema if needed. Errors as SqliteStore::Open / PostgresStore::Open. `notice` gets what a
// schema migration changed besides the schema (one line each); empty: printed to stderr as
// "warning: …".
StatusOr<OpenedStore> OpenStore(const ServerConfig& config, StoreUse use = StoreUse::kCommand,
                                MigrationNotice notice = {});

// For a SQLite store: makes `holder` (e.g. "coffer server") its only owner until the result is
// destroyed; take it before OpenStore, keep it until the store is closed. kFailedPrecondition
// "the store PATH is in use by coffer server (pid N)" when another process owns it (see
// SqliteStoreLock::Acquire). For a PostgreSQL store, which several servers share: null.
StatusOr<std::unique_ptr<SqliteStoreLock>> LockStore(const ServerConfig& config,
                                                     std::string_view holder);

// Where the root key comes from: --root-key-uri when given (a key file or a PKCS#11 token);
// else COFFER_ROOT_KEY when it is set and no key file is named, else the key file (root.key in
// the data directory unless --root-key-file). With --next-root-key-uri, both root keys (crypto/
// migrating_key_provider.h). kInvalidArgument for a malformed URI.
StatusOr<std::unique_ptr<KeyProvider>> RootKeyProviderFor(const ServerConfig& config);

// A store with its keyring as stored (empty until `coffer init` has initialized it): what the
// server and the offline commands work on.
struct InitializedStore {
  OpenedStore store;
  std::vector<WrappedKey> keys;
};

// Opens the store (as OpenStore) and reads its keyring. On failure — it cannot be opened or read
// — prints why to stderr and returns the exit code.
std::variant<InitializedStore, int> OpenStoreAndKeyring(const ServerConfig& config,
                                                        StoreUse use = StoreUse::kCommand,
                                                        MigrationNotice notice = {});

// OpenStoreAndKeyring, and a failure too (printed, exit code) when the store is not initialized.
std::variant<InitializedStore, int> OpenInitializedStore(const ServerConfig& config,
                                                         StoreUse use = StoreUse::kCommand,
                                                         MigrationNotice notice = {});

}  // namespace coffer::server
