// Storage fault markers round-trip through a Status message and errno values map to faults.
#include "common/storage_fault.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace coffer {
namespace {

TEST(StorageFaultTest, MarkersRoundTrip) {
  for (StorageFault f : {StorageFault::kFull, StorageFault::kReadOnly, StorageFault::kIoError}) {
    const std::string message =
        "store: exec: disk I/O error " + std::string(StorageFaultMarker(f)) + " more";
    EXPECT_EQ(StorageFaultIn(message), f);
  }
  EXPECT_EQ(StorageFaultMarker(StorageFault::kNone), "");
  EXPECT_EQ(StorageFaultIn("store: exec: database is locked"), StorageFault::kNone);
  EXPECT_EQ(StorageFaultIn(""), StorageFault::kNone);
}

TEST(StorageFaultTest, ErrnoMapping) {
  EXPECT_EQ(StorageFaultForErrno(0), StorageFault::kNone);
  EXPECT_EQ(StorageFaultForErrno(ENOSPC), StorageFault::kFull);
  EXPECT_EQ(StorageFaultForErrno(EDQUOT), StorageFault::kFull);
  EXPECT_EQ(StorageFaultForErrno(EROFS), StorageFault::kReadOnly);
  EXPECT_EQ(StorageFaultForErrno(EIO), StorageFault::kIoError);
}

}  // namespace
}  // namespace coffer
