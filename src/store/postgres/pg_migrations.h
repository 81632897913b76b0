// Schema of the PostgreSQL store and its migration runner. Migrations are numbered; each runs in
// its own transaction, and the whole run holds a session advisory lock, so several servers
// starting together apply each migration exactly once (the others wait, then find it applied).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"
#include "store/migration_step.h"
#include "store/postgres/pg_connection.h"

namespace coffer {

struct PgMigration {
  int64_t version;
  std::string_view name;
  std::string_view sql;  // one or more statements, no parameters
  // Runs first, in the same transaction, for data changes the schema change needs; adds a note
  // for each. May be null.
  Status (*data_step)(PgConnection& conn, MigrationNotes& notes) = nullptr;
};

// Every migration, in order.
std::span<const PgMigration> PgMigrations();

// Applies the pending ones of `migrations` under the advisory lock; `notice` gets the notes of
// each data step once its migration has committed. kFailedPrecondition when the database has a
// schema newer than the newest of `migrations`; kUnavailable / kInternal from the server
// otherwise. REQUIRES: no transaction open on `conn`.
Status ApplyPgMigrations(PgConnection& conn, std::span<const PgMigration> migrations,
                         const MigrationNotice& notice = {});

// The advisory-lock key of the migration run (pg_advisory_lock(bigint)): "coffer" in ASCII.
inline constexpr int64_t kPgMigrationLockKey = 0x636f66666572;

}  // namespace coffer
