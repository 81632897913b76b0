// The permission checks of files that hold keys and data.
#include "common/file_mode.h"

#include <fmt/format.h>

#include "common/regular_file.h"

namespace coffer {
namespace {

// "read", "changed" or "read and changed", from the group/other bits of `mode`.
std::string_view Exposure(mode_t mode) {
  const bool read = (mode & (S_IRGRP | S_IROTH)) != 0;
  const bool write = (mode & (S_IWGRP | S_IWOTH)) != 0;
  if (read && write) return "read and changed";
  if (write) return "changed";
  if (read) return "read";
  return "used";  // only execute bits
}

}  // namespace

Status CheckOwnerOnlyFile(const struct stat& st, std::string_view what, std::string_view path) {
  if (!S_ISREG(st.st_mode)) {
    return FailedPreconditionError(
        fmt::format("{} {} is {}, not a regular file", what, path, FileTypeName(st.st_mode)));
  }
  const mode_t loose = st.st_mode & 077;
  if (loose != 0) {
    return FailedPreconditionError(
        fmt::format("{} {} may be {} by other users (mode {:04o}); restrict it with: chmod 600 {}",
                    what, path, Exposure(loose), st.st_mode & 07777, path));
  }
  return OkStatus();
}

Status CheckPrivateKeyFile(const struct stat& st, uid_t euid, std::string_view path) {
  if (!S_ISREG(st.st_mode)) {
    return FailedPreconditionError(fmt::format("TLS private key {} is {}, not a regular file", path,
                                               FileTypeName(st.st_mode)));
  }
  const mode_t mode = st.st_mode & 07777;
  if (st.st_uid == euid) {
    if ((mode & 077) != 0) {
      return FailedPreconditionError(fmt::format(
          "TLS private key {} may be {} by other users (mode {:04o}); restrict it with: chmod "
          "600 {} (or make it root-owned and group-readable: chown root:GROUP, chmod 640)",
          path, Exposure(mode & 077), mode, path));
    }
    return OkStatus();
  }
  if (st.st_uid == 0) {
    const mode_t loose = mode & (S_IWGRP | S_IXGRP | S_IRWXO);
    if (loose != 0) {
      return FailedPreconditionError(fmt::format(
          "TLS private key {} may be {} by other users (mode {:04o}); a root-owned key may be "
          "readable by its group at most: chmod 640 {}",
          path, Exposure(loose), mode, path));
    }
    return OkStatus();
  }
  return FailedPreconditionError(fmt::format(
      "TLS private key {} is owned by uid {}, neither the server's user (uid {}) nor root; "
      "whoever owns it can change it: chown it to the server's user (mode 600) or to root (mode "
      "640)",
      path, st.st_uid, euid));
}

Status CheckPrivateDirectory(const struct stat& st, std::string_view path) {
  if (!S_ISDIR(st.st_mode)) {
    return FailedPreconditionError(fmt::format("{} is not a directory", path));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return FailedPreconditionError(fmt::format(
        "directory {} is writable by other users (mode {:04o}), who could replace the files in "
        "it; restrict it with: chmod go-w {} (coffer init makes it 0700)",
        path, st.st_mode & 07777, path));
  }
  return OkStatus();
}

}  // namespace coffer
