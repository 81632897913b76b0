// LD_PRELOAD fault injector for the storage-fault tests (tests/integration/test_faults*.py): while
// a control file exists, the write-side calls SQLite makes (pwrite64, write, fdatasync, fsync,
// ftruncate64, fallocate) fail on every file whose path starts with a given prefix.
//
// Environment, read once at the first intercepted call:
//   COFFER_FAULT_PREFIX   absolute path prefix of the files to fault (e.g. <data-dir>/coffer.db,
//                         which covers the database, its -wal, -shm and -journal files)
//   COFFER_FAULT_CONTROL  the control file. While it exists, calls fail with the errno its first
//                         word names: ENOSPC (default when empty), EROFS, EIO, EDQUOT. A second
//                         word narrows the calls: "sync" (fsync, fdatasync only), "write"
//                         (everything but the syncs), "grow" (only what would make a file
//                         bigger: a write past its end, a growing ftruncate, fallocate —
//                         what a really full file system refuses); default all of them
//   COFFER_FAULT_LOG      optional: each injected failure appends "<function>\n" here, so a test
//                         can check the shim really intercepted the store's calls
// Thread-safe: no state but the resolved libc functions and the environment, both set once.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {

struct Config {
  const char* prefix = nullptr;
  size_t prefix_len = 0;
  const char* control = nullptr;
  const char* log = nullptr;
};

const Config& GetConfig() {
  static const Config config = [] {
    Config c;
    c.prefix = std::getenv("COFFER_FAULT_PREFIX");
    c.prefix_len = c.prefix != nullptr ? std::strlen(c.prefix) : 0;
    c.control = std::getenv("COFFER_FAULT_CONTROL");
    c.log = std::getenv("COFFER_FAULT_LOG");
    return c;
  }();
  return config;
}

// The libc function `name` behind this library.
template <typename Fn>
Fn Next(std::atomic<Fn>& slot, const char* name) {
  Fn fn = slot.load(std::memory_order_acquire);
  if (fn == nullptr) {
    fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
    slot.store(fn, std::memory_order_release);
  }
  return fn;
}

using WriteFn = ssize_t (*)(int, const void*, size_t);

// Appends `what` to COFFER_FAULT_LOG with the real write().
void Note(const char* what) {
  const Config& c = GetConfig();
  if (c.log == nullptr) {
    return;
  }
  static std::atomic<WriteFn> real_write{nullptr};
  const int fd = open(c.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return;
  }
  char line[64];
  const size_t n = std::strlen(what) < sizeof(line) - 1 ? std::strlen(what) : sizeof(line) - 2;
  std::memcpy(line, what, n);
  line[n] = '\n';
  (void)Next(real_write, "write")(fd, line, n + 1);
  close(fd);
}

// Ends of the byte ranges calls touch, for the "grow" scope.
constexpr off64_t kUnknownEnd = -1;  // a write at the file offset: looked up with lseek
constexpr off64_t kGrows = -2;       // fallocate: always counts as growing

// Whether a call reaching byte `end` of `fd` makes the file bigger.
bool Grows(int fd, off64_t end, size_t count) {
  if (end == kGrows) {
    return true;
  }
  if (end == kUnknownEnd) {
    const off64_t at = lseek64(fd, 0, SEEK_CUR);
    if (at < 0) {
      return true;  // a pipe or socket is never under the prefix; be strict otherwise
    }
    end = at + static_cast<off64_t>(count);
  }
  struct stat64 st;
  return fstat64(fd, &st) != 0 || end > st.st_size;
}

// The errno to fail a call on `fd` with, or 0 to let it through. `sync`: the call is an fsync.
// `end` / `count`: the end of the range a write or truncate reaches (for the "grow" scope).
int FaultFor(int fd, const char* what, bool sync = false, off64_t end = kGrows, size_t count = 0) {
  const Config& c = GetConfig();
  if (c.prefix_len == 0 || c.control == nullptr) {
    return 0;
  }
  const int cfd = open(c.control, O_RDONLY | O_CLOEXEC);
  if (cfd < 0) {
    return 0;  // no control file: no fault
  }
  char word[64] = {};
  const ssize_t got = read(cfd, word, sizeof(word) - 1);
  close(cfd);
  if (got > 0) {
    const char* scope = std::strchr(word, ' ');
    if (scope != nullptr && std::strncmp(scope + 1, "sync", 4) == 0 && !sync) {
      return 0;
    }
    if (scope != nullptr && std::strncmp(scope + 1, "write", 5) == 0 && sync) {
      return 0;
    }
    if (scope != nullptr && std::strncmp(scope + 1, "grow", 4) == 0 &&
        (sync || !Grows(fd, end, count))) {
      return 0;
    }
  }
  char link[32];
  char path[4096];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t len = readlink(link, path, sizeof(path) - 1);
  if (len < 0 || static_cast<size_t>(len) < c.prefix_len ||
      std::strncmp(path, c.prefix, c.prefix_len) != 0) {
    return 0;
  }
  int error = ENOSPC;
  if (got > 0) {
    if (std::strncmp(word, "EROFS", 5) == 0) {
      error = EROFS;
    } else if (std::strncmp(word, "EIO", 3) == 0) {
      error = EIO;
    } else if (std::strncmp(word, "EDQUOT", 6) == 0) {
      error = EDQUOT;
    }
  }
  Note(what);
  return error;
}

}  // namespace

#define COFFER_FAULT_OR_RETURN(fd, name, ...)                          \
  do {                                                                 \
    if (const int e = FaultFor((fd), (name), ##__VA_ARGS__); e != 0) { \
      errno = e;                                                       \
      return -1;                                                       \
    }                                                                  \
  } while (0)

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  static std::atomic<WriteFn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "write", false, kUnknownEnd, count);
  return Next(real, "write")(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  using Fn = ssize_t (*)(int, const struct iovec*, int);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "writev");
  return Next(real, "writev")(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  using Fn = ssize_t (*)(int, const void*, size_t, off_t);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "pwrite", false, offset + static_cast<off64_t>(count));
  return Next(real, "pwrite")(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  using Fn = ssize_t (*)(int, const void*, size_t, off64_t);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "pwrite64", false, offset + static_cast<off64_t>(count));
  return Next(real, "pwrite64")(fd, buf, count, offset);
}

int fsync(int fd) {
  using Fn = int (*)(int);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "fsync", true);
  return Next(real, "fsync")(fd);
}

int fdatasync(int fd) {
  using Fn = int (*)(int);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "fdatasync", true);
  return Next(real, "fdatasync")(fd);
}

int ftruncate(int fd, off_t length) {
  using Fn = int (*)(int, off_t);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "ftruncate", false, length);
  return Next(real, "ftruncate")(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  using Fn = int (*)(int, off64_t);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "ftruncate64", false, length);
  return Next(real, "ftruncate64")(fd, length);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len) {
  using Fn = int (*)(int, int, off64_t, off64_t);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "fallocate64");
  return Next(real, "fallocate64")(fd, mode, offset, len);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  using Fn = int (*)(int, int, off_t, off_t);
  static std::atomic<Fn> real{nullptr};
  COFFER_FAULT_OR_RETURN(fd, "fallocate");
  return Next(real, "fallocate")(fd, mode, offset, len);
}

// posix_fallocate reports its error as the return value, not in errno.
int posix_fallocate(int fd, off_t offset, off_t len) {
  using Fn = int (*)(int, off_t, off_t);
  static std::atomic<Fn> real{nullptr};
  if (const int e = FaultFor(fd, "posix_fallocate"); e != 0) {
    return e;
  }
  return Next(real, "posix_fallocate")(fd, offset, len);
}

int posix_fallocate64(int fd, off64_t offset, off64_t len) {
  using Fn = int (*)(int, off64_t, off64_t);
  static std::atomic<Fn> real{nullptr};
  if (const int e = FaultFor(fd, "posix_fallocate64"); e != 0) {
    return e;
  }
  return Next(real, "posix_fallocate64")(fd, offset, len);
}

}  // extern "C"
