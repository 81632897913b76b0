// Online backup of the embedded SQLite store: a consistent copy of the database file taken while
// a server may be writing it, through SQLite's backup API on a separate read connection.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace coffer {

struct SqliteBackupResult {
  int64_t bytes = 0;           // size of the backup file
  int64_t schema_version = 0;  // highest migration applied in the copy
};

// Copies the database at `source` to `destination`, which must not exist. The copy is one
// snapshot (the last commit before the copy began; writers are not blocked), is checked with
// PRAGMA integrity_check, needs no -wal file (journal_mode DELETE; a server opening it switches
// it back to WAL), is created with mode 0600 and is fsynced. It appears under its name only once
// complete: a failed backup leaves nothing behind.
// Errors: kAlreadyExists (destination exists), kNotFound (no database at source),
// kDataLoss (the copy fails its integrity check or is not a Coffer store), kUnavailable (I/O).
StatusOr<SqliteBackupResult> BackupSqliteDatabase(const std::string& source,
                                                  const std::string& destination);

}  // namespace coffer
