// Maps SQLite result codes to Coffer's Status codes, in one place, so every caller in the SQLite
// backend reports the same failure the same way.
#pragma once

#include <string_view>

#include "common/status.h"

namespace coffer {

// The Status for a failed SQLite call with (extended) result code `code`. The message is
// "store: <context>: <SQLite's generic text for the code>": it never contains a bound value
// (a ciphertext or an HMAC must never end up in a message). `context` must not either.
//   SQLITE_FULL, IOERR, READONLY, BUSY, LOCKED, CANTOPEN, NOMEM, PROTOCOL -> kUnavailable
//   CONSTRAINT_UNIQUE / _PRIMARYKEY / _ROWID -> kAlreadyExists; other CONSTRAINT ->
//   kFailedPrecondition CORRUPT, NOTADB                                -> kDataLoss TOOBIG ->
//   kInvalidArgument; INTERRUPT -> kCancelled; anything else -> kInternal
Status SqliteStatus(int code, std::string_view context);

}  // namespace coffer
