// The TLS private key file: checked on the open descriptor, then read whole.
#include "http/tls_key_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/file_mode.h"

namespace coffer::http {
namespace {

// Far above any PEM private key (an RSA-16384 key is ~13 KiB); a bound on what is read.
constexpr size_t kMaxKeyFileSize = 1 << 20;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

StatusOr<SecretBuffer> ReadTlsPrivateKey(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Err(FailedPreconditionError(
        fmt::format("cannot open the TLS private key {}: {}", path, ErrnoText(errno))));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Err(FailedPreconditionError(
        fmt::format("cannot stat the TLS private key {}: {}", path, ErrnoText(errno))));
  }
  RETURN_IF_ERROR(CheckPrivateKeyFile(st, ::geteuid(), path));
  if (st.st_size > static_cast<off_t>(kMaxKeyFileSize)) {
    return Err(FailedPreconditionError(
        fmt::format("the TLS private key {} is larger than {} bytes", path, kMaxKeyFileSize)));
  }
  SecretBuffer text(static_cast<size_t>(st.st_size) + 1);  // one more byte tells if it grew
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(FailedPreconditionError(
          fmt::format("cannot read the TLS private key {}: {}", path, ErrnoText(errno))));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == text.size()) {
    return Err(FailedPreconditionError(
        fmt::format("the TLS private key {} changed while it was read; try again", path)));
  }
  text.Truncate(got);
  return text;
}

}  // namespace coffer::http
