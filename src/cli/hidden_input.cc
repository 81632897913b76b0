// The hidden prompt: see hidden_input.h.
#include "cli/hidden_input.h"

#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "client/wiping_json.h"

namespace coffer::cli {

namespace {

Status EchoNotOff(std::string_view why) {
  return FailedPreconditionError(fmt::format(
      "cannot turn off echo on the terminal ({}), so the secret is not read: give it with "
      "--value-file FILE or pipe it on stdin",
      why));
}

// Turns echo off on `fd` and checks that it is: tcsetattr succeeds when any of the changes
// could be made, so the terminal is read back.
Status EchoOff(int fd, const termios& old) {
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  if (::tcsetattr(fd, TCSAFLUSH, &quiet) != 0) return EchoNotOff(std::strerror(errno));
  termios now{};
  if (::tcgetattr(fd, &now) != 0) return EchoNotOff(std::strerror(errno));
  if ((now.c_lflag & ECHO) != 0) return EchoNotOff("the terminal kept echo on");
  return OkStatus();
}

}  // namespace

StatusOr<SecretBuffer> ReadHiddenLine(int fd, std::string_view prompt) {
  fmt::print(stderr, "{}", prompt);
  std::fflush(stderr);
  termios old{};
  if (::tcgetattr(fd, &old) != 0) {
    fmt::print(stderr, "\n");
    return Err(EchoNotOff(std::strerror(errno)));
  }
  if (Status off = EchoOff(fd, old); !off.ok()) {
    if (::tcsetattr(fd, TCSAFLUSH, &old) != 0) {
      fmt::print(stderr, "\nwarning: cannot restore the terminal's settings: {} (run `stty sane`)",
                 std::strerror(errno));
    }
    fmt::print(stderr, "\n");
    return Err(std::move(off));
  }
  client::GrowingSecretBuffer line;
  Status read = OkStatus();
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read = InternalError(fmt::format("cannot read from the terminal: {}", std::strerror(errno)));
      break;
    }
    if (n == 0 || c == '\n') break;
    if (c != '\r') line.Append(&c, 1);
  }
  c = 0;
  if (::tcsetattr(fd, TCSAFLUSH, &old) != 0) {
    // The secret was read unseen; only the terminal is left without echo.
    fmt::print(stderr, "\nwarning: cannot turn echo back on: {} (run `stty echo`)",
               std::strerror(errno));
  }
  fmt::print(stderr, "\n");
  if (!read.ok()) return Err(std::move(read));
  return SecretBuffer(line.view());
}

}  // namespace coffer::cli
