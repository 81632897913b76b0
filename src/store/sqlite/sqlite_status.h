// Maps SQLite result codes to Coffer's Status codes, in one place, so every caller in the SQLite
// backend reports the same failure the same way.
#pragma once

#include <string_view>

#include "common/status.h"

struct sqlite3;

namespace coffer {

// The Status for a failed SQLite call with (extended) result code `code`. The message is
// "store: <context>: <SQLite's generic text for the code>": it never contains a bound value
// (a ciphertext or an HMAC must never end up in a message). `context` must not either.
//   SQLITE_FULL, IOERR, READONLY, BUSY, LOCKED, CANTOPEN, NOMEM, PROTOCOL -> kUnavailable
//   CONSTRAINT_UNIQUE / _PRIMARYKEY / _ROWID -> kAlreadyExists; other CONSTRAINT ->
//   kFailedPrecondition CORRUPT, NOTADB                                -> kDataLoss TOOBIG ->
//   kInvalidArgument; INTERRUPT -> kCancelled; anything else -> kInternal
// FULL, READONLY and IOERR are storage faults (common/storage_fault.h): the payload names the
// one that `system_errno` (SqliteLastErrno() of the connection; 0 if unknown) or the code says,
// so the API answers 503 storage-full / storage-read-only / storage-io-error.
Status SqliteStatus(int code, std::string_view context, int system_errno = 0);

// The errno of the last failed system call on `db`'s write-ahead log, else on its database
// file, else sqlite3_system_errno(); 0 if none. (sqlite3_system_errno alone is not enough: it
// is not set when a COMMIT's WAL write or fsync fails, and errno may be overwritten by then.)
// A file keeps its last errno after later successes, so call it only right after a failure.
int SqliteLastErrno(sqlite3* db);

}  // namespace coffer
