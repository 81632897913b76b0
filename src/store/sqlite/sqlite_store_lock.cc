// SqliteStoreLock: flock(LOCK_EX | LOCK_NB) on "<database>.lock", the holder's "<pid> <command>"
// written into it, read back by whoever is refused.
#include "store/sqlite/sqlite_store_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string>

namespace coffer {

namespace {

// "coffer server (pid 1234)" from what a holder wrote ("1234 coffer server\n"), or "another
// process" when the file says nothing usable (the holder may not have written it yet).
std::string DescribeHolder(int fd) {
  char buffer[128] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string_view text(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  long pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || pid <= 0 || end == text.data() + text.size() || *end != ' ') {
    return "another process";
  }
  const std::string_view command = text.substr(static_cast<size_t>(end - text.data()) + 1);
  const bool printable =
      !command.empty() &&
      std::all_of(command.begin(), command.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
  return (printable ? std::string(command) : std::string("a process")) + " (pid " +
         std::to_string(pid) + ")";
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStoreLock>> SqliteStoreLock::Acquire(std::string_view db_path,
                                                                    std::string_view holder) {
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::weakly_canonical(db_path, ec);
  const std::string store = ec ? std::string(db_path) : resolved.string();
  const std::string path = store + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return Err(NotFoundError("the directory of the store " + store + " does not exist"));
    }
    return Err(UnavailableError("cannot open the lock file " + path + ": " + std::strerror(err)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const std::string who = DescribeHolder(fd);
      ::close(fd);
      return Err(FailedPreconditionError("the store " + store + " is in use by " + who));
    }
    ::close(fd);
    return Err(UnavailableError("cannot lock " + path + ": " + std::strerror(err)));
  }
  const std::string line = std::to_string(::getpid()) + " " + std::string(holder) + "\n";
  // Best effort: the lock holds without it; a refused process then names no pid.
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    (void)::ftruncate(fd, 0);
  }
  return std::unique_ptr<SqliteStoreLock>(new SqliteStoreLock(fd, path));
}

SqliteStoreLock::~SqliteStoreLock() {
  // Closing the descriptor releases the flock. The pid stays in the file until the next owner
  // overwrites it; it is read only by processes refused while the lock is held.
  ::close(fd_);
}

}  // namespace coffer
