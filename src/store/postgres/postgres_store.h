// The PostgreSQL backend of Store, for several `coffer server` processes sharing one database:
// a pool of libpq connections, prepared statements with binary parameters, and every rule that
// must hold across servers made atomic in SQL (dense versions, counted reads, the audit chain,
// the rate limiter, credential compare-and-swap), with time rules on the database's clock.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/monotonic_clock.h"
#include "common/random.h"
#include "common/status.h"
#include "store/migration_step.h"
#include "store/store.h"

namespace coffer {

struct PostgresStoreOptions {
  // postgres://user[:password]@host[:port]/dbname[?param=value&…] (or postgresql://). Any
  // libpq parameter may be given (sslmode, connect_timeout, …); `pool_size=N` is Coffer's own
  // and overrides `pool_size` below.
  std::string url;
  int pool_size = 16;  // connections at most, i.e. store calls that run at once
  std::chrono::milliseconds pool_wait{10'000};  // how long a call waits for a free connection
  // Where HitRateLimit reads the time: the database's clock (every server counts one window,
  // whatever its own clock says), or the `now` argument. kCaller exists for tests that must
  // move time by hand (the conformance suite); never use it in a deployment.
  enum class RuleClock : uint8_t { kDatabase, kCaller };
  RuleClock rate_limit_clock = RuleClock::kDatabase;
  // Follow the changes other processes commit (credentials, agents, vaults, policies) on one
  // more connection that LISTENs (pg_change_listener.h), so that Changes() is Current() and
  // what a server keeps in memory may be served. Off, Changes() reports this process's own
  // changes only and is never Current(). A server turns it on; commands need not.
  bool follow_changes = false;
  // With follow_changes: told, on the listener's thread, when following stops (why) and
  // resumes (OK). Messages hold no password.
  std::function<void(const Status&)> on_follow_state = nullptr;
  // Told what a schema migration changed besides the schema (e.g. vaults it renamed), once it
  // has committed, so the operator's log says so. May be empty.
  MigrationNotice on_migration_notice = {};
  // Measures pool_wait, the change feed's heartbeats and how long it is trusted. Must outlive
  // the store.
  const MonotonicClock* clock = &DefaultMonotonicClock();
  // Draws the ids of new secrets. Must outlive the store.
  Random* random = &DefaultRandom();
};

// Store over PostgreSQL. Every Store method is thread-safe and runs on a pooled connection;
// a write returns once its transaction is committed with synchronous_commit on. Transactions
// that hit a serialization failure or deadlock are retried from the start (a PutSecretVersion
// `seal` may then run more than once). Changes() is a ChangeFeed of several writers: see
// PostgresStoreOptions::follow_changes.
class PostgresStore : public Store {
 public:
  // Connects, applies pending schema migrations (once, even when several servers start
  // together). kInvalidArgument for a malformed URL or options; kUnavailable when the database
  // cannot be reached; kFailedPrecondition when its schema is newer than this binary knows.
  static StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresStoreOptions& options);

  // The database's clock (clock_timestamp()), in Unix microseconds. Thread-safe.
  virtual StatusOr<UnixMicros> DatabaseNow() = 0;
};

// PostgresStore::Open for callers that only need the Store interface.
StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options);

// True for a postgres:// or postgresql:// URL.
bool IsPostgresUrl(std::string_view url);

// A postgres:// URL `url` with its database name replaced by `database` (query kept).
// REQUIRES: IsPostgresUrl(url).
std::string PostgresUrlWithDatabase(std::string_view url, std::string_view database);

// `url` with any password replaced by "***", for messages and logs.
std::string RedactPostgresUrl(std::string_view url);

}  // namespace coffer
