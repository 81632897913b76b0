// The SQLite schema as an ordered list of versioned migrations, and the code that brings a
// database up to date. A database records what it has in schema_migrations(version, name,
// applied_at); a migration, once released, is never edited: change the schema with a new one.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "store/migration_step.h"
#include "store/sqlite/sqlite_connection.h"

namespace coffer {

struct SqliteMigration {
  int64_t version;  // 1, 2, 3 … in list order
  std::string_view name;
  std::string_view sql;  // one or more statements, run in the migration's transaction
  // Runs first, in the same transaction, for data changes the schema change needs; adds a note
  // for each. May be null.
  Status (*data_step)(SqliteConnection& db, MigrationNotes& notes) = nullptr;
};

// Every migration this binary knows, in order.
std::span<const SqliteMigration> SqliteMigrations();

// Applies each migration of `migrations` the database has not recorded yet, each in its own
// BEGIN IMMEDIATE transaction (so two processes opening one file at once apply it once), and
// records it with `applied_at = now`. Running it again changes nothing.
// kFailedPrecondition when the database holds a version newer than the last of `migrations`
// (it was written by a newer Coffer); otherwise the Status of the failing statement.
// REQUIRES: `db` is a read-write connection with no transaction open.
Status ApplySqliteMigrations(SqliteConnection& db, std::span<const SqliteMigration> migrations,
                             UnixMicros now, const MigrationNotice& notice = {});

}  // namespace coffer
