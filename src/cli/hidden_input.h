// Reading a secret typed at a terminal with echo off: the one place the client turns echo off,
// and the place that refuses to read a secret visibly when it cannot.
#pragma once

#include <string_view>

#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::cli {

// Writes `prompt` to stderr, turns echo off on the terminal `fd`, reads one line from it (up to
// '\n' or end of input; the '\n' and any '\r' left out) and turns echo back on. When echo cannot
// be turned off (`fd` is not a terminal, or the terminal refuses), nothing is read:
// kFailedPrecondition. kInternal when reading fails. Not thread-safe (it changes the terminal).
StatusOr<SecretBuffer> ReadHiddenLine(int fd, std::string_view prompt);

}  // namespace coffer::cli
