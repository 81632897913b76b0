// A storage fault's Status names the fault in its payload and its message, and errno values map
// to faults.
#include "common/storage_fault.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "common/status_matchers.h"

namespace coffer {
namespace {

TEST(StorageFaultTest, AFaultIsAnUnavailableThatNamesIt) {
  for (StorageFault f : {StorageFault::kFull, StorageFault::kReadOnly, StorageFault::kIoError}) {
    const Status s = StorageFaultError(f, "store: exec: disk I/O error");
    EXPECT_THAT(s, StatusIs(StatusCode::kUnavailable,
                            "store: exec: disk I/O error " + std::string(StorageFaultMarker(f))));
    EXPECT_EQ(s.payload().storage_fault, f);
  }
  EXPECT_EQ(StorageFaultMarker(StorageFault::kFull), "(storage full)");
  EXPECT_EQ(StorageFaultMarker(StorageFault::kNone), "");
  const Status none = StorageFaultError(StorageFault::kNone, "store: exec: database is locked");
  EXPECT_THAT(none, StatusIs(StatusCode::kUnavailable, "store: exec: database is locked"));
  EXPECT_EQ(none.payload(), StatusPayload{});
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
