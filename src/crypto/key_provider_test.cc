// Tests for the root key providers: the key file's permissions, format and creation, and the
// environment provider. Messages must help an operator and never contain key material.
#include "crypto/key_provider.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "common/random.h"
#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kKeyHex =
    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/coffer_key_provider_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/root.key";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteKeyFile(std::string_view content, mode_t mode) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << content;
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }

  std::string dir_;
  std::string path_;
};

void ExpectIsTestKey(const SecretBuffer& key) {
  ASSERT_EQ(key.size(), kRootKeySize);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(key.data()[i], static_cast<uint8_t>(i * 0x11));
    EXPECT_EQ(key.data()[16 + i], static_cast<uint8_t>(i * 0x11));
  }
}

TEST_F(KeyFileTest, LoadsHexKeyWithAndWithoutNewline) {
  for (const char* suffix : {"", "\n"}) {
    WriteKeyFile(std::string(kKeyHex) + suffix, 0600);
    auto key = NewFileKeyProvider(path_)->LoadRootKey();
    ASSERT_TRUE(key.has_value()) << key.error();
    ExpectIsTestKey(*key);
  }
  WriteKeyFile(kKeyHex, 0400);
  EXPECT_TRUE(NewFileKeyProvider(path_)->LoadRootKey().has_value());
}

TEST_F(KeyFileTest, MissingFileIsNotFound) {
  auto key = NewFileKeyProvider(path_)->LoadRootKey();
  EXPECT_THAT(key, StatusIs(StatusCode::kNotFound, HasSubstr(path_)));
}

TEST_F(KeyFileTest, RefusesFileOthersCanRead) {
  for (const mode_t mode : {0644, 0640, 0604, 0660, 0601, 0610, 0777}) {
    WriteKeyFile(kKeyHex, mode);
    auto key = NewFileKeyProvider(path_)->LoadRootKey();
    EXPECT_THAT(key, StatusIs(StatusCode::kFailedPrecondition,
                              AllOf(HasSubstr("chmod 600 " + path_), Not(HasSubstr("aabbcc")),
                                    Not(HasSubstr("00112233")))))
        << std::oct << mode;
  }
}

TEST_F(KeyFileTest, RefusesMalformedContent) {
  const std::string hex(kKeyHex);
  for (const std::string& bad :
       {std::string(), std::string("\n"), hex.substr(0, 62), hex.substr(0, 63) + "\n", hex + "0",
        hex + "\n\n", hex + "\r\n", " " + hex, hex.substr(0, 63) + "g", hex + " ",
        std::string(200, 'a')}) {
    WriteKeyFile(bad, 0600);
    auto key = NewFileKeyProvider(path_)->LoadRootKey();
    EXPECT_THAT(key, StatusIs(StatusCode::kFailedPrecondition,
                              AllOf(HasSubstr(path_), HasSubstr("64 hexadecimal"),
                                    Not(HasSubstr("00112233")))))
        << bad;
  }
}

TEST_F(KeyFileTest, RefusesDirectory) {
  ASSERT_EQ(mkdir(path_.c_str(), 0700), 0);
  auto key = NewFileKeyProvider(path_)->LoadRootKey();
  EXPECT_THAT(key, StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(KeyFileTest, RefusesFifoWithoutWaitingForAWriter) {
  ASSERT_EQ(mkfifo(path_.c_str(), 0600), 0);
  auto load =
      std::async(std::launch::async, [&] { return NewFileKeyProvider(path_)->LoadRootKey(); });
  if (load.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    // Blocked in open(): give it a writer that closes at once, so the test fails instead of
    // hanging.
    const int writer = open(path_.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) close(writer);
    load.wait();
    FAIL() << "LoadRootKey waited for a writer on a FIFO";
  }
  auto key = load.get();
  EXPECT_THAT(key, StatusIs(StatusCode::kFailedPrecondition,
                            "key file " + path_ + " is a FIFO (named pipe), not a regular file"));
}

TEST_F(KeyFileTest, Describe) {
  EXPECT_EQ(NewFileKeyProvider(path_)->Describe(), "key file " + path_);
  EXPECT_EQ(NewEnvKeyProvider("COFFER_ROOT_KEY")->Describe(),
            "environment variable COFFER_ROOT_KEY");
}

TEST_F(KeyFileTest, CreateThenLoad) {
  SystemRandom random;
  ASSERT_TRUE(CreateRootKeyFile(path_, random).ok());
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 65);
  auto key = NewFileKeyProvider(path_)->LoadRootKey();
  ASSERT_TRUE(key.has_value()) << key.error();
  EXPECT_EQ(key->size(), kRootKeySize);
  EXPECT_FALSE(key->Equals(SecretBuffer(kRootKeySize).span()));
}

TEST_F(KeyFileTest, TheRootKeyOfAFileSealsAndOpensKeyringKeys) {
  SystemRandom random;
  ASSERT_TRUE(CreateRootKeyFile(path_, random).ok());
  auto provider = KeyProviderForUri("file:" + path_);
  ASSERT_TRUE(provider.has_value()) << provider.error();
  auto root = (*provider)->OpenRootKey(random);
  ASSERT_TRUE(root.has_value()) << root.error();
  EXPECT_EQ((*root)->kind(), RootKeyKind::kBytes);
  EXPECT_TRUE((*provider)->CheckReachable().ok());
  SecretBuffer key(kRootKeySize);
  ASSERT_TRUE(random.Fill({key.data(), key.size()}).ok());
  const std::vector<uint8_t> aad = {'a'};
  auto sealed = (*root)->Seal(key, aad);
  ASSERT_TRUE(sealed.has_value()) << sealed.error();
  EXPECT_EQ(SealedRootKind(*sealed), RootKeyKind::kBytes);
  auto opened = (*root)->Open(*sealed, aad);
  ASSERT_TRUE(opened.has_value()) << opened.error();
  EXPECT_TRUE(opened->Equals(key.span()));
  EXPECT_THAT((*root)->Open(*sealed, std::vector<uint8_t>{'b'}),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(SealedRootKind(std::vector<uint8_t>{0x50, 1}), RootKeyKind::kPkcs11);
  EXPECT_EQ(SealedRootKind(std::vector<uint8_t>{}), RootKeyKind::kUnknown);
}

TEST_F(KeyFileTest, CreateWritesTheRandomKey) {
  auto random = NewDeterministicRandom(11);
  ASSERT_TRUE(CreateRootKeyFile(path_, *random).ok());
  SecretBuffer expected(kRootKeySize);
  ASSERT_TRUE(NewDeterministicRandom(11)->Fill({expected.data(), expected.size()}).ok());
  auto key = NewFileKeyProvider(path_)->LoadRootKey();
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(key->Equals(expected.span()));
}

TEST_F(KeyFileTest, CreateHonoursModeDespiteUmask) {
  const mode_t old = umask(0777);
  SystemRandom random;
  const Status s = CreateRootKeyFile(path_, random);
  umask(old);
  ASSERT_TRUE(s.ok()) << s;
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(KeyFileTest, CreateNeverOverwrites) {
  WriteKeyFile(kKeyHex, 0600);
  SystemRandom random;
  const Status s = CreateRootKeyFile(path_, random);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find(path_), std::string::npos);
  auto key = NewFileKeyProvider(path_)->LoadRootKey();
  ASSERT_TRUE(key.has_value());
  ExpectIsTestKey(*key);
}

TEST_F(KeyFileTest, CreateDoesNotFollowSymlink) {
  const std::string target = dir_ + "/target";
  ASSERT_EQ(symlink(target.c_str(), path_.c_str()), 0);
  SystemRandom random;
  EXPECT_FALSE(CreateRootKeyFile(path_, random).ok());
  EXPECT_FALSE(std::filesystem::exists(target));
}

TEST_F(KeyFileTest, CreateInMissingDirectoryFails) {
  SystemRandom random;
  const Status s = CreateRootKeyFile(dir_ + "/no/such/dir/root.key", random);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), StatusCode::kAlreadyExists);
}

TEST_F(KeyFileTest, CreateWithFailingRandomLeavesNoFile) {
  FailingRandom random;
  EXPECT_EQ(CreateRootKeyFile(path_, random).code(), StatusCode::kInternal);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

class EnvKeyTest : public ::testing::Test {
 protected:
  static constexpr const char* kVar = "COFFER_TEST_ROOT_KEY_ENV";
  void TearDown() override { unsetenv(kVar); }
};

TEST_F(EnvKeyTest, LoadsHexKey) {
  ASSERT_EQ(setenv(kVar, std::string(kKeyHex).c_str(), 1), 0);
  auto key = NewEnvKeyProvider(kVar)->LoadRootKey();
  ASSERT_TRUE(key.has_value()) << key.error();
  ExpectIsTestKey(*key);
}

TEST_F(EnvKeyTest, MissingIsNotFound) {
  unsetenv(kVar);
  auto key = NewEnvKeyProvider(kVar)->LoadRootKey();
  EXPECT_THAT(key, StatusIs(StatusCode::kNotFound, HasSubstr(kVar)));
}

TEST_F(EnvKeyTest, MalformedRefusedWithoutEcho) {
  for (const std::string& bad :
       {std::string(), std::string("abc"), std::string(kKeyHex).substr(0, 63) + "z",
        std::string(kKeyHex) + "00"}) {
    ASSERT_EQ(setenv(kVar, bad.c_str(), 1), 0);
    auto key = NewEnvKeyProvider(kVar)->LoadRootKey();
    EXPECT_THAT(key, StatusIs(StatusCode::kFailedPrecondition,
                              AllOf(HasSubstr(kVar), Not(HasSubstr("00112233")))));
  }
}

}  // namespace
}  // namespace coffer
