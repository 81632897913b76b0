// SQLite result code -> Status.
#include "store/sqlite/sqlite_status.h"

#include <sqlite3.h>

#include <string>

#include "common/storage_fault.h"

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

StorageFault FaultFor(int code, int system_errno) {
  switch (code & 0xff) {
    case SQLITE_FULL:
      return StorageFault::kFull;
    case SQLITE_READONLY:
      return StorageFault::kReadOnly;
    case SQLITE_IOERR: {
      // SQLite reports a failed write as IOERR_WRITE and a full disk as FULL, but an fsync or
      // truncate that fails with ENOSPC or EROFS only as IOERR_*: the errno says which.
      const StorageFault fault = StorageFaultForErrno(system_errno);
      return fault == StorageFault::kNone ? StorageFault::kIoError : fault;
    }
    default:
      return StorageFault::kNone;
  }
}

}  // namespace

int SqliteLastErrno(sqlite3* db) {
  if (db == nullptr) {
    return 0;
  }
  int error = 0;
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK &&
      wal != nullptr && wal->pMethods != nullptr &&
      wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO, &error) == SQLITE_OK &&
      error != 0) {
    return error;
  }
  error = 0;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &error) == SQLITE_OK &&
      error != 0) {
    return error;
  }
  return sqlite3_system_errno(db);
}

Status SqliteStatus(int code, std::string_view context, int system_errno) {
  std::string message = "store: ";
  message += context;
  message += ": ";
  message += sqlite3_errstr(code);
  const StorageFault fault = FaultFor(code, system_errno);
  if (fault != StorageFault::kNone) {
    return StorageFaultError(fault, std::move(message));  // FULL, READONLY, IOERR: kUnavailable
  }
  return Status(CodeFor(code), std::move(message));
}

}  // namespace coffer
