// Operator-named files: a FIFO, a directory or a device is refused at once (never waited on), a
// regular file is read whole, and the size bound holds.
#include "common/regular_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::_;

class RegularFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/coffer_regular_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

TEST_F(RegularFileTest, ReadsARegularFileAndALinkToOne) {
  std::ofstream(Path("config.toml")) << "listen = \"127.0.0.1:0\"\n";
  std::filesystem::create_symlink(Path("config.toml"), Path("link.toml"));
  for (const char* name : {"config.toml", "link.toml"}) {
    auto text = ReadRegularFile(Path(name), "config file", 1024);
    ASSERT_THAT(text, IsOk());
    EXPECT_EQ(*text, "listen = \"127.0.0.1:0\"\n");
  }
  EXPECT_TRUE(CheckRegularFile(Path("config.toml"), "config file").ok());
}

TEST_F(RegularFileTest, RefusesAFifoWithoutWaitingForAWriter) {
  ASSERT_EQ(::mkfifo(Path("fifo").c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  auto text = ReadRegularFile(Path("fifo"), "root key file", 1024);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(text, StatusIs(StatusCode::kFailedPrecondition,
                             "root key file " + Path("fifo") +
                                 " is a FIFO (named pipe), not a regular file"));
  EXPECT_FALSE(CheckRegularFile(Path("fifo"), "TLS key").ok());
}

TEST_F(RegularFileTest, NamesWhatItGotInstead) {
  std::filesystem::create_directories(Path("dir"));
  auto dir = ReadRegularFile(Path("dir"), "config file", 1024);
  EXPECT_THAT(dir,
              StatusIs(_, "config file " + Path("dir") + " is a directory, not a regular file"));

  auto device = CheckRegularFile("/dev/null", "TLS certificate");
  EXPECT_EQ(device.message(),
            "TLS certificate /dev/null is a character device, not a regular file");

  auto missing = ReadRegularFile(Path("missing"), "config file", 1024);
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound,
                                "config file " + Path("missing") + " does not exist"));
}

TEST_F(RegularFileTest, BoundsTheSize) {
  std::ofstream(Path("big")) << std::string(20000, 'x');
  EXPECT_TRUE(ReadRegularFile(Path("big"), "config file", 20000).has_value());
  auto text = ReadRegularFile(Path("big"), "config file", 19999);
  EXPECT_THAT(text, StatusIs(_, "config file " + Path("big") + " is larger than 19999 bytes"));
}

}  // namespace
}  // namespace coffer
