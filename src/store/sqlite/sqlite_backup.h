// Online backup of the embedded SQLite store: a consistent copy of the database file taken while
// a server may be writing it, through SQLite's backup API on a separate read connection.
#pragma once

#include <cstdint>
#include <functional>
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
// kFailedPrecondition (source is not a file), kDataLoss (the copy fails its integrity check or
// is not a Coffer store), kUnavailable (I/O; a source this user cannot read says why, see
// SqliteReadProblem).
StatusOr<SqliteBackupResult> BackupSqliteDatabase(const std::string& source,
                                                  const std::string& destination);

// access(2) as a function: 0 when `path` allows `mode`, else the errno.
using AccessCheck = std::function<int(const std::string& path, int mode)>;

// Why this process cannot read the SQLite database at `path` in WAL mode, for an operator:
// e.g. "cannot create /d/coffer.db-shm: Read-only file system (…)"; the directory, the file, its
// -wal and its -shm are checked with `can_access`. "" when nothing is in the way.
std::string SqliteReadProblem(const std::string& path, const AccessCheck& can_access);

}  // namespace coffer
