// SqliteStoreLock: one owner per database file, however the path is spelled; the refusal names
// the owner; the lock goes with its owner.
#include "store/sqlite/sqlite_store_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer {
namespace {

using ::testing::_;

class SqliteStoreLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("coffer-lock-" + NewUuid());
    std::filesystem::create_directories(dir_ / "data");
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Db() const { return (dir_ / "data" / "coffer.db").string(); }

  std::filesystem::path dir_;
};

TEST_F(SqliteStoreLockTest, ASecondOwnerIsRefusedWithTheFirstOnesPidAndCommand) {
  auto first = SqliteStoreLock::Acquire(Db(), "coffer server");
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ((*first)->path(), Db() + ".lock");
  // flock belongs to an open file description: a second one conflicts, even in this process.
  auto second = SqliteStoreLock::Acquire(Db(), "coffer migrate");
  ASSERT_THAT(second, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(second, StatusIs(_, "the store " + Db() + " is in use by coffer server (pid " +
                                      std::to_string(::getpid()) + ")"));
}

TEST_F(SqliteStoreLockTest, TheLockIsFreeAgainOnceItsOwnerIsGone) {
  {
    auto first = SqliteStoreLock::Acquire(Db(), "coffer server");
    ASSERT_THAT(first, IsOk());
  }
  auto again = SqliteStoreLock::Acquire(Db(), "coffer server");
  EXPECT_THAT(again, IsOk());
}

TEST_F(SqliteStoreLockTest, EveryPathToOneFileTakesOneLock) {
  std::filesystem::create_directory_symlink(dir_ / "data", dir_ / "link");
  auto first = SqliteStoreLock::Acquire(Db(), "coffer server");
  ASSERT_THAT(first, IsOk());
  const std::string via_link = (dir_ / "link" / "coffer.db").string();
  const std::string dotted = (dir_ / "data" / "." / ".." / "data" / "coffer.db").string();
  for (const std::string& path : {via_link, dotted}) {
    auto other = SqliteStoreLock::Acquire(path, "coffer server");
    EXPECT_THAT(other, StatusIs(StatusCode::kFailedPrecondition)) << path;
  }
}

TEST_F(SqliteStoreLockTest, AMissingDirectoryIsNotFoundAndAnUnreadableOwnerIsStillNamed) {
  EXPECT_THAT(SqliteStoreLock::Acquire((dir_ / "none" / "coffer.db").string(), "x"),
              StatusIs(StatusCode::kNotFound));
  auto first = SqliteStoreLock::Acquire(Db(), "coffer server");
  ASSERT_THAT(first, IsOk());
  // What an owner wrote is only a hint: garbage in the file does not hide that it is in use.
  ASSERT_EQ(::truncate((*first)->path().c_str(), 0), 0);
  auto second = SqliteStoreLock::Acquire(Db(), "coffer server");
  ASSERT_THAT(second, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(second, StatusIs(_, "the store " + Db() + " is in use by another process"));
}

}  // namespace
}  // namespace coffer
