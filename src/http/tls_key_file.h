// Reading the server's TLS private key: from a descriptor whose owner and mode are checked first
// (common/file_mode.h, CheckPrivateKeyFile), into wiped memory, so the key that is loaded is the
// file that was checked and no copy of it outlives the TLS context's own.
#pragma once

#include <string>

#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::http {

// The PEM text of the private key at `path`. kFailedPrecondition naming the file when it cannot
// be opened or read, is not a regular file, is larger than 1 MiB, or other users could read or
// change it (the message says the mode and the chmod that fixes it). Thread-safe.
StatusOr<SecretBuffer> ReadTlsPrivateKey(const std::string& path);

}  // namespace coffer::http
