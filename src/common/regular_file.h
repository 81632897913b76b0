// Files an operator names (a config file, a TLS certificate or key, a CA bundle) must be regular
// files. Opening a FIFO for reading waits for a writer and a device may never end, so these
// helpers open without blocking and check the type on the open descriptor before reading.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

// "a directory", "a FIFO (named pipe)", "a character device", … for `st_mode`'s file type.
std::string_view FileTypeName(unsigned st_mode);

// Closes a file descriptor when it goes out of scope (if not negative).
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser();
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now and returns close()'s result (a failed close can mean lost writes).
  int Close();

 private:
  int fd_;
};

// Opens `path` read-only (following symlinks: mounted secrets are often links) and checks that it
// is a regular file. Returns the descriptor (close-on-exec; the caller closes it) and, if `st` is
// not null, stores its fstat there, so that the caller checks the file it then reads.
// kNotFound when it does not exist; kFailedPrecondition naming `what` and `path` when it cannot be
// opened (with the system's reason, e.g. "Permission denied") or is not a regular file.
// Thread-safe.
StatusOr<int> OpenRegularFile(const std::string& path, std::string_view what,
                              struct stat* st = nullptr);

// Reads `fd` until end of file or until `buffer` is full (retrying interrupted reads); returns
// how many bytes it read. A caller that must tell a longer file from one that fits passes one
// byte more than it accepts. kFailedPrecondition "cannot read WHAT PATH: reason" on a failed read.
StatusOr<size_t> ReadUpTo(int fd, std::span<uint8_t> buffer, std::string_view what,
                          std::string_view path);

// The whole content of the regular file `path` (as OpenRegularFile); kFailedPrecondition when it
// holds more than `max_bytes` or a read fails. Not for secrets: the bytes land in a std::string.
StatusOr<std::string> ReadRegularFile(const std::string& path, std::string_view what,
                                      size_t max_bytes);

// For a file a library opens by name (OpenSSL, libcurl): OK when `path` is a regular file that
// can be opened for reading; otherwise the error of OpenRegularFile.
Status CheckRegularFile(const std::string& path, std::string_view what);

}  // namespace coffer
