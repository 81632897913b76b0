// SQLite online backup into a temporary file, checked, synced and renamed into place.
#include "store/sqlite/sqlite_backup.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>

#include "common/regular_file.h"

namespace coffer {

namespace {

constexpr int kBusyTimeoutMs = 10'000;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

StatusOr<Db> OpenDb(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return Err(UnavailableError(
        fmt::format("cannot open {}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))));
  }
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  return db;
}

// The first column of the first row of `sql`, as text ("" when there is no row).
StatusOr<std::string> QueryText(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return Err(
        DataLossError(fmt::format("the copy cannot run \"{}\": {}", sql, sqlite3_errmsg(db))));
  }
  std::string out;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return Err(DataLossError(fmt::format("the copy failed \"{}\": {}", sql, sqlite3_errmsg(db))));
  }
  return out;
}

// Thread-safe, unlike strerror.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// What the file system tells about an error number, for an operator: what to do about it.
std::string_view HintFor(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
      return " (run coffer backup as the user the server runs as)";
    case EROFS:
      return " (SQLite writes the -shm file to read a database in WAL mode: back up from a "
             "writable mount)";
    default:
      return "";
  }
}

}  // namespace

std::string SqliteReadProblem(const std::string& path, const AccessCheck& can_access) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const std::string shown_dir = dir.empty() ? "." : dir;
  auto problem = [](std::string what, int err) {
    return fmt::format("{}: {}{}", what, ErrnoText(err), HintFor(err));
  };
  if (int err = can_access(shown_dir, X_OK); err != 0) {
    return problem(fmt::format("cannot enter the directory {}", shown_dir), err);
  }
  if (int err = can_access(path, R_OK); err != 0) {
    return problem(fmt::format("cannot read {}", path), err);
  }
  // A reader of a WAL database reads the -wal file and opens the -shm file read-write, creating
  // it when missing.
  const std::string wal = path + "-wal";
  if (can_access(wal, F_OK) == 0) {
    if (int err = can_access(wal, R_OK); err != 0) {
      return problem(fmt::format("cannot read {}", wal), err);
    }
  }
  const std::string shm = path + "-shm";
  if (can_access(shm, F_OK) == 0) {
    if (int err = can_access(shm, R_OK | W_OK); err != 0) {
      return problem(fmt::format("cannot open {} for writing", shm), err);
    }
  } else if (int err = can_access(shown_dir, W_OK); err != 0) {
    return problem(fmt::format("cannot create {}", shm), err);
  }
  return "";
}

namespace {

int SystemAccess(const std::string& path, int mode) {
  return ::access(path.c_str(), mode) == 0 ? 0 : errno;
}

Status SyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    return UnavailableError(fmt::format("cannot open {} to sync it", path));
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? OkStatus() : UnavailableError(fmt::format("cannot sync {}", path));
}

Status CopyInto(sqlite3* source, const std::string& temp) {
  ASSIGN_OR_RETURN(Db dest, OpenDb(temp, SQLITE_OPEN_READWRITE));
  sqlite3_backup* backup = sqlite3_backup_init(dest.get(), "main", source, "main");
  if (backup == nullptr) {
    return UnavailableError(fmt::format("cannot start the backup: {}", sqlite3_errmsg(dest.get())));
  }
  // All pages in one step: the copy is read inside a single read transaction, i.e. one
  // snapshot, and in WAL mode that never blocks the server's writer.
  int rc = SQLITE_OK;
  for (int attempt = 0; attempt < 100; ++attempt) {
    rc = sqlite3_backup_step(backup, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return UnavailableError(fmt::format("the backup did not complete: {}", sqlite3_errstr(rc)));
  }
  // A self-contained file: no -wal beside it.
  ASSIGN_OR_RETURN(std::string mode, QueryText(dest.get(), "PRAGMA journal_mode=DELETE"));
  ASSIGN_OR_RETURN(std::string check, QueryText(dest.get(), "PRAGMA integrity_check"));
  if (check != "ok") {
    return DataLossError("the copy fails SQLite's integrity check: " + check);
  }
  return OkStatus();
}

}  // namespace

StatusOr<SqliteBackupResult> BackupSqliteDatabase(const std::string& source,
                                                  const std::string& destination) {
  std::error_code ec;
  if (std::filesystem::exists(destination, ec)) {
    return Err(
        AlreadyExistsError(fmt::format("{} already exists; choose a new file", destination)));
  }
  // The real cause, not "no database" for a directory this user may not enter.
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Err(NotFoundError(fmt::format("no database at {}", source)));
    return Err(UnavailableError(SqliteReadProblem(source, SystemAccess)));
  }
  if (!S_ISREG(st.st_mode)) {
    return Err(FailedPreconditionError(
        fmt::format("{} is {}, not a database file", source, FileTypeName(st.st_mode))));
  }
  const std::string temp = destination + ".partial";
  std::filesystem::remove(temp, ec);
  {
    // Created 0600 before SQLite opens it: a backup holds every (encrypted) secret and the
    // wrapped keyring.
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      const int err = errno;
      return Err(UnavailableError(fmt::format("cannot create {}: {}", temp, ErrnoText(err))));
    }
    ::close(fd);
  }
  auto cleanup = [&temp] {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    std::filesystem::remove(temp + "-journal", ignored);
  };

  // SQLite says "unable to open database file" or "attempt to write a readonly database" when
  // the cause is a permission or a read-only mount: name that instead.
  auto read_failure = [&](const Status& s) {
    cleanup();
    const std::string problem = SqliteReadProblem(source, SystemAccess);
    if (problem.empty()) return s;
    return UnavailableError(fmt::format("cannot read the database: {}", problem));
  };
  SqliteBackupResult result;
  {
    auto db = OpenDb(source, SQLITE_OPEN_READONLY);
    if (!db.has_value()) return Err(read_failure(db.error()));
    if (Status s = CopyInto(db->get(), temp); !s.ok()) return Err(read_failure(s));
  }
  {
    auto copy = OpenDb(temp, SQLITE_OPEN_READONLY);
    if (!copy.has_value()) {
      cleanup();
      return Err(copy.error());
    }
    auto version = QueryText(copy->get(), "SELECT max(version) FROM schema_migrations");
    if (!version.has_value() || version->empty()) {
      cleanup();
      return Err(
          DataLossError(fmt::format("{} is not a Coffer store (no schema_migrations)", source)));
    }
    result.schema_version = std::strtoll(version->c_str(), nullptr, 10);
  }
  if (Status s = SyncPath(temp, O_RDONLY); !s.ok()) {
    cleanup();
    return Err(s);
  }
  std::filesystem::rename(temp, destination, ec);
  if (ec) {
    cleanup();
    return Err(UnavailableError(
        fmt::format("cannot rename {} to {}: {}", temp, destination, ec.message())));
  }
  const std::filesystem::path parent = std::filesystem::absolute(destination, ec).parent_path();
  // Best effort: the copy is synced and in place, and some file systems cannot sync a directory.
  (void)SyncPath(parent.string(), O_RDONLY | O_DIRECTORY);
  result.bytes = static_cast<int64_t>(std::filesystem::file_size(destination, ec));
  return result;
}

}  // namespace coffer
