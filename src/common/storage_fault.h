// Storage faults (disk full, read-only, I/O error) named in one place: the stores report one as a
// kUnavailable whose payload names the fault (StatusPayload::storage_fault, common/status.h), and
// the HTTP layer answers it with a 503 problem whose type names it
// (urn:coffer:problem:storage-full, …). The message says it too, for people: "(storage full)".
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

// The words a storage fault's message ends with, e.g. "(storage full)"; "" for kNone.
std::string_view StorageFaultMarker(StorageFault fault);

// kUnavailable with `message`, then a space and the fault's marker, and `fault` in the payload;
// for kNone, plain kUnavailable with `message`.
Status StorageFaultError(StorageFault fault, std::string message);

// The fault an errno value from a failed write or sync stands for (kIoError for anything else
// non-zero, kNone for 0).
StorageFault StorageFaultForErrno(int error);

}  // namespace coffer
