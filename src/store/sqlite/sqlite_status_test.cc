// SqliteStatus: result codes -> Status codes, and the storage fault (in the payload and the
// message) that makes the API answer 503 storage-full / storage-read-only / storage-io-error.
#include "store/sqlite/sqlite_status.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cerrno>

#include "common/storage_fault.h"

namespace coffer {
namespace {

StorageFault FaultOf(const Status& s) { return s.payload().storage_fault; }

TEST(SqliteStatusTest, StorageFaultsAreUnavailableAndNamed) {
  EXPECT_EQ(SqliteStatus(SQLITE_FULL, "exec").code(), StatusCode::kUnavailable);
  EXPECT_EQ(FaultOf(SqliteStatus(SQLITE_FULL, "exec")), StorageFault::kFull);
  EXPECT_EQ(FaultOf(SqliteStatus(SQLITE_READONLY, "exec")), StorageFault::kReadOnly);
  // IOERR: the errno of the failed call says what kind.
  EXPECT_EQ(FaultOf(SqliteStatus(SQLITE_IOERR_WRITE, "exec", EROFS)), StorageFault::kReadOnly);
  EXPECT_EQ(FaultOf(SqliteStatus(SQLITE_IOERR_FSYNC, "exec", ENOSPC)), StorageFault::kFull);
  EXPECT_EQ(FaultOf(SqliteStatus(SQLITE_IOERR_FSYNC, "exec", EIO)), StorageFault::kIoError);
  EXPECT_EQ(FaultOf(SqliteStatus(SQLITE_IOERR_WRITE, "exec", 0)), StorageFault::kIoError);
  EXPECT_EQ(SqliteStatus(SQLITE_IOERR_WRITE, "exec", EROFS).code(), StatusCode::kUnavailable);
  // The message says it too, for the operator.
  EXPECT_EQ(SqliteStatus(SQLITE_FULL, "exec").message(),
            "store: exec: database or disk is full (storage full)");
}

TEST(SqliteStatusTest, OtherFailuresNameNoFault) {
  for (int code : {SQLITE_BUSY, SQLITE_CONSTRAINT_UNIQUE, SQLITE_CORRUPT, SQLITE_MISUSE}) {
    EXPECT_EQ(FaultOf(SqliteStatus(code, "query", EROFS)), StorageFault::kNone) << code;
  }
}

TEST(SqliteStatusTest, LastErrnoOfAConnectionWithoutFailuresIsZero) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  EXPECT_EQ(SqliteLastErrno(db), 0);
  sqlite3_close(db);
  EXPECT_EQ(SqliteLastErrno(nullptr), 0);
}

}  // namespace
}  // namespace coffer
