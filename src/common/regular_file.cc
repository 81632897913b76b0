// Opening operator-named files without blocking, and refusing anything but a regular file.
#include "common/regular_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace coffer {
namespace {

// Thread-safe, unlike strerror.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

std::string_view FileTypeName(unsigned st_mode) {
  switch (st_mode & S_IFMT) {
    case S_IFREG:
      return "a regular file";
    case S_IFDIR:
      return "a directory";
    case S_IFIFO:
      return "a FIFO (named pipe)";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    case S_IFSOCK:
      return "a socket";
    case S_IFLNK:
      return "a symbolic link";
    default:
      return "not a regular file";
  }
}

FdCloser::~FdCloser() {
  if (fd_ >= 0) ::close(fd_);
}

int FdCloser::Close() {
  const int rc = ::close(fd_);
  fd_ = -1;
  return rc;
}

StatusOr<int> OpenRegularFile(const std::string& path, std::string_view what, struct stat* st_out) {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer, forever. O_NOCTTY: a terminal
  // named by mistake must not become the controlling terminal.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return Err(NotFoundError(fmt::format("{} {} does not exist", what, path)));
    }
    return Err(
        FailedPreconditionError(fmt::format("cannot open {} {}: {}", what, path, ErrnoText(err))));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Err(
        FailedPreconditionError(fmt::format("cannot stat {} {}: {}", what, path, ErrnoText(err))));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Err(FailedPreconditionError(
        fmt::format("{} {} is {}, not a regular file", what, path, FileTypeName(st.st_mode))));
  }
  // Reads block as usual from here on (it makes no difference for a regular file).
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  if (st_out != nullptr) *st_out = st;
  return fd;
}

StatusOr<size_t> ReadUpTo(int fd, std::span<uint8_t> buffer, std::string_view what,
                          std::string_view path) {
  size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(FailedPreconditionError(
          fmt::format("cannot read {} {}: {}", what, path, ErrnoText(errno))));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

StatusOr<std::string> ReadRegularFile(const std::string& path, std::string_view what,
                                      size_t max_bytes) {
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, what));
  FdCloser closer(fd);
  std::string out(max_bytes + 1, '\0');  // one byte more tells a file that is too large
  ASSIGN_OR_RETURN(const size_t got,
                   ReadUpTo(fd, {reinterpret_cast<uint8_t*>(out.data()), out.size()}, what, path));
  if (got > max_bytes) {
    return Err(FailedPreconditionError(
        fmt::format("{} {} is larger than {} bytes", what, path, max_bytes)));
  }
  out.resize(got);
  return out;
}

Status CheckRegularFile(const std::string& path, std::string_view what) {
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, what));
  ::close(fd);
  return OkStatus();
}

}  // namespace coffer
