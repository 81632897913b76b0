// The hidden prompt reads a line with echo off on a terminal (a pseudo-terminal here), and reads
// nothing when echo cannot be turned off.
#include "cli/hidden_input.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/status_matchers.h"

namespace coffer::cli {
namespace {

using ::testing::HasSubstr;

bool EchoOn(int fd) {
  termios t{};
  return ::tcgetattr(fd, &t) == 0 && (t.c_lflag & ECHO) != 0;
}

TEST(HiddenInputTest, ANonTerminalIsRefusedAndNothingIsRead) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "typed\n", 6), 6);
  EXPECT_THAT(ReadHiddenLine(fds[0], ""),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("cannot turn off echo")));
  char left[16] = {};
  EXPECT_EQ(::read(fds[0], left, sizeof(left)), 6) << "the input must be left unread";
  EXPECT_EQ(std::string(left, 6), "typed\n");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(HiddenInputTest, ReadsALineWithEchoOffAndTurnsEchoBackOn) {
  int master = -1;
  int slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  ASSERT_TRUE(EchoOn(slave));
  StatusOr<SecretBuffer> read = Err(InternalError("not run"));
  std::thread reader([&] { read = ReadHiddenLine(slave, ""); });
  // What is typed before echo is off is discarded (TCSAFLUSH), so type only once it is.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (EchoOn(slave) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_FALSE(EchoOn(slave)) << "echo was never turned off";
  ASSERT_EQ(::write(master, "s3cret\n", 7), 7);
  reader.join();
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->view(), "s3cret");
  EXPECT_TRUE(EchoOn(slave)) << "echo must be back on";
  // Nothing was echoed back to the terminal.
  ASSERT_EQ(::fcntl(master, F_SETFL, O_NONBLOCK), 0);
  char echoed[64];
  EXPECT_LT(::read(master, echoed, sizeof(echoed)), 1);
  ::close(slave);
  ::close(master);
}

}  // namespace
}  // namespace coffer::cli
