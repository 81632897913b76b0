// SQLite result code -> Status.
#include "store/sqlite/sqlite_status.h"

#include <sqlite3.h>

#include <string>

namespace coffer {

namespace {

StatusCode CodeFor(int code) {
  switch (code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
      return StatusCode::kAlreadyExists;
    default:
      break;
  }
  switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
      return StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kDataLoss;
    case SQLITE_TOOBIG:
      return StatusCode::kInvalidArgument;
    case SQLITE_INTERRUPT:
      return StatusCode::kCancelled;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace

Status SqliteStatus(int code, std::string_view context) {
  std::string message = "store: ";
  message += context;
  message += ": ";
  message += sqlite3_errstr(code);
  return Status(CodeFor(code), std::move(message));
}

}  // namespace coffer
