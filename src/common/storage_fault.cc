// Storage faults as a Status: see storage_fault.h.
#include "common/storage_fault.h"

#include <cerrno>
#include <utility>

namespace coffer {

std::string_view StorageFaultMarker(StorageFault fault) {
  switch (fault) {
    case StorageFault::kFull:
      return "(storage full)";
    case StorageFault::kReadOnly:
      return "(storage read-only)";
    case StorageFault::kIoError:
      return "(storage I/O error)";
    case StorageFault::kNone:
      break;
  }
  return "";
}

Status StorageFaultError(StorageFault fault, std::string message) {
  if (fault != StorageFault::kNone) {
    message += ' ';
    message += StorageFaultMarker(fault);
  }
  return Status(StatusCode::kUnavailable, std::move(message), {.storage_fault = fault});
}

StorageFault StorageFaultForErrno(int error) {
  switch (error) {
    case 0:
      return StorageFault::kNone;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return StorageFault::kFull;
    case EROFS:
    case EACCES:
    case EPERM:
      return StorageFault::kReadOnly;
    default:
      return StorageFault::kIoError;
  }
}

}  // namespace coffer
