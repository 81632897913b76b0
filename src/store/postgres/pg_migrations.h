// Schema of the PostgreSQL store and its migration runner. Migrations are numbered; each runs in
// its own transaction, and the whole run holds a session advisory lock, so several servers
// starting together apply each migration exactly once (the others wait, then find it applied).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"
#include "store/postgres/pg_connection.h"

namespace coffer {

struct PgMigration {
  int64_t version;
  std::string_view name;
  std::string_view sql;  // one or more statements, no parameters
};

// Every migration, in order.
std::span<const PgMigration> PgMigrations();

// Applies the pending ones of `migrations` under the advisory lock. kFailedPrecondition when the
// database has a schema newer than the newest of `migrations`; kUnavailable / kInternal from the
// server otherwise. REQUIRES: no transaction open on `conn`.
Status ApplyPgMigrations(PgConnection& conn, std::span<const PgMigration> migrations);

// The advisory-lock key of the migration run (pg_advisory_lock(bigint)): "coffer" in ASCII.
inline constexpr int64_t kPgMigrationLockKey = 0x636f66666572;

}  // namespace coffer
