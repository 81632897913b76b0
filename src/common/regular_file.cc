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

StatusOr<int> OpenRegularFile(const std::string& path, std::string_view what) {
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
  return fd;
}

StatusOr<std::string> ReadRegularFile(const std::string& path, std::string_view what,
                                      size_t max_bytes) {
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, what));
  std::string out;
  char chunk[8192];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Err(FailedPreconditionError(
          fmt::format("cannot read {} {}: {}", what, path, ErrnoText(err))));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return Err(FailedPreconditionError(
          fmt::format("{} {} is larger than {} bytes", what, path, max_bytes)));
    }
    out.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status CheckRegularFile(const std::string& path, std::string_view what) {
  ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, what));
  ::close(fd);
  return OkStatus();
}

}  // namespace coffer
