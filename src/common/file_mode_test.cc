// Tests for the permission checks of key, store and config files.
#include "common/file_mode.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

struct stat File(mode_t mode, uid_t uid = 1000) {
  struct stat st {};
  st.st_mode = S_IFREG | mode;
  st.st_uid = uid;
  return st;
}

struct stat Dir(mode_t mode) {
  struct stat st {};
  st.st_mode = S_IFDIR | mode;
  return st;
}

TEST(FileModeTest, OwnerOnlyFileAcceptsOwnerBitsOnly) {
  for (const mode_t mode : {0600, 0400, 0700, 0200}) {
    EXPECT_TRUE(CheckOwnerOnlyFile(File(mode), "store file", "/d/coffer.db").ok())
        << std::oct << mode;
  }
}

TEST(FileModeTest, OwnerOnlyFileRefusesAnyGroupOrOtherBit) {
  for (const mode_t mode : {0644, 0640, 0604, 0660, 0666, 0620, 0602, 0610, 0601, 0777}) {
    const Status s = CheckOwnerOnlyFile(File(mode), "store file", "/d/coffer.db");
    ASSERT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("store file /d/coffer.db"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("chmod 600 /d/coffer.db"), std::string::npos) << s.message();
  }
  EXPECT_NE(CheckOwnerOnlyFile(File(0644), "f", "p")
                .message()
                .find("may be read by other users "
                      "(mode 0644)"),
            std::string::npos);
  EXPECT_NE(CheckOwnerOnlyFile(File(0666), "f", "p").message().find("read and changed"),
            std::string::npos);
  EXPECT_NE(CheckOwnerOnlyFile(File(0620), "f", "p").message().find("may be changed"),
            std::string::npos);
}

TEST(FileModeTest, OwnerOnlyFileRefusesWhatIsNotARegularFile) {
  const Status s = CheckOwnerOnlyFile(Dir(0700), "key file", "/d/root.key");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("not a regular file"), std::string::npos);
}

TEST(FileModeTest, PrivateKeyOwnedByTheServerUserMustBe0600) {
  EXPECT_TRUE(CheckPrivateKeyFile(File(0600, 1000), 1000, "/k").ok());
  EXPECT_TRUE(CheckPrivateKeyFile(File(0400, 1000), 1000, "/k").ok());
  for (const mode_t mode : {0640, 0644, 0604, 0660, 0666}) {
    const Status s = CheckPrivateKeyFile(File(mode, 1000), 1000, "/k");
    ASSERT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("chmod 600 /k"), std::string::npos) << s.message();
  }
  // A server running as root owns its key: no group bits either.
  EXPECT_TRUE(CheckPrivateKeyFile(File(0600, 0), 0, "/k").ok());
  EXPECT_FALSE(CheckPrivateKeyFile(File(0640, 0), 0, "/k").ok());
}

TEST(FileModeTest, PrivateKeyOwnedByRootMayBeGroupReadable) {
  EXPECT_TRUE(CheckPrivateKeyFile(File(0640, 0), 1000, "/k").ok());
  EXPECT_TRUE(CheckPrivateKeyFile(File(0600, 0), 1000, "/k").ok());
  for (const mode_t mode : {0644, 0660, 0650, 0604, 0641}) {
    const Status s = CheckPrivateKeyFile(File(mode, 0), 1000, "/k");
    ASSERT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_NE(s.message().find("chmod 640 /k"), std::string::npos) << s.message();
  }
}

TEST(FileModeTest, PrivateKeyOwnedBySomeoneElseIsRefused) {
  const Status s = CheckPrivateKeyFile(File(0600, 2000), 1000, "/k");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("owned by uid 2000"), std::string::npos) << s.message();
}

TEST(FileModeTest, DirectoryMustNotBeWritableByOthers) {
  for (const mode_t mode : {0700, 0750, 0755, 0711}) {
    EXPECT_TRUE(CheckPrivateDirectory(Dir(mode), "/d").ok()) << std::oct << mode;
  }
  for (const mode_t mode : {0770, 0777, 01777, 0702, 0720}) {
    const Status s = CheckPrivateDirectory(Dir(mode), "/d");
    ASSERT_FALSE(s.ok()) << std::oct << mode;
    EXPECT_NE(s.message().find("chmod go-w /d"), std::string::npos) << s.message();
  }
  EXPECT_FALSE(CheckPrivateDirectory(File(0700), "/d").ok());
}

}  // namespace
}  // namespace coffer
