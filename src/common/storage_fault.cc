// Storage fault markers: see storage_fault.h.
#include "common/storage_fault.h"

#include <cerrno>

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

StorageFault StorageFaultIn(std::string_view message) {
  for (StorageFault fault :
       {StorageFault::kFull, StorageFault::kReadOnly, StorageFault::kIoError}) {
    if (message.find(StorageFaultMarker(fault)) != std::string_view::npos) {
      return fault;
    }
  }
  return StorageFault::kNone;
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
