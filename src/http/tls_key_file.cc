// The TLS private key file: checked on the open descriptor, then read whole.
#include "http/tls_key_file.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_mode.h"
#include "common/regular_file.h"

namespace coffer::http {
namespace {

// Far above any PEM private key (an RSA-16384 key is ~13 KiB); a bound on what is read.
constexpr size_t kMaxKeyFileSize = 1 << 20;

}  // namespace

StatusOr<SecretBuffer> ReadTlsPrivateKey(const std::string& path) {
  struct stat st {};
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, "TLS private key", &st));
  FdCloser closer(fd);
  RETURN_IF_ERROR(CheckPrivateKeyFile(st, ::geteuid(), path));
  if (st.st_size > static_cast<off_t>(kMaxKeyFileSize)) {
    return Err(FailedPreconditionError(
        fmt::format("the TLS private key {} is larger than {} bytes", path, kMaxKeyFileSize)));
  }
  SecretBuffer text(static_cast<size_t>(st.st_size) + 1);  // one more byte tells if it grew
  ASSIGN_OR_RETURN(const size_t got,
                   ReadUpTo(fd, {text.data(), text.size()}, "TLS private key", path));
  if (got == text.size()) {
    return Err(FailedPreconditionError(
        fmt::format("the TLS private key {} changed while it was read; try again", path)));
  }
  text.Truncate(got);
  return text;
}

}  // namespace coffer::http
