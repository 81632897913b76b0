// Storage faults (disk full, read-only, I/O error) named in one place: the stores tag a Status
// message with a fault's marker, and the HTTP layer turns a tagged kUnavailable into a 503 problem
// whose type names the fault (urn:coffer:problem:storage-full, …).
#pragma once

#include <string_view>

namespace coffer {

enum class StorageFault {
  kNone,
  kFull,      // no space left (ENOSPC, EDQUOT, SQLITE_FULL, PostgreSQL 53100)
  kReadOnly,  // the store cannot be written (EROFS, SQLITE_READONLY, PostgreSQL 25006)
  kIoError,   // the device failed a read, write or sync (EIO, SQLITE_IOERR, PostgreSQL 58030)
};

// The marker a store appends to a Status message, e.g. "(storage full)"; "" for kNone.
std::string_view StorageFaultMarker(StorageFault fault);

// The fault whose marker occurs in `message`, or kNone.
StorageFault StorageFaultIn(std::string_view message);

// The fault an errno value from a failed write or sync stands for (kIoError for anything else
// non-zero, kNone for 0).
StorageFault StorageFaultForErrno(int error);

}  // namespace coffer
