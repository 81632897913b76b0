// SqliteStoreLock: at most one process owns a SQLite store at a time — a `coffer server` for its
// whole life, or `coffer init` / `coffer migrate` while they run — because the server keeps
// credentials, vaults and policies in memory and trusts that nobody else changes them. An
// exclusive flock on "<database file>.lock", taken without waiting and released by the kernel
// however the owner ends (kill -9 too); the file names the owner's pid and command, so a
// refusal says who holds the store. Commands meant to run beside a server (`coffer backup`,
// `coffer keys`) do not take it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

class SqliteStoreLock {
 public:
  // Takes the lock of the store whose database file is `db_path` (symlinks resolved, so every
  // path to one file takes one lock) for `holder`, e.g. "coffer server". Never waits.
  // kFailedPrecondition when another process holds it: "the store PATH is in use by coffer
  // server (pid N)"; kNotFound when the store's directory does not exist; kUnavailable when
  // the lock file cannot be created or locked. Messages hold no secret (paths and a pid only).
  static StatusOr<std::unique_ptr<SqliteStoreLock>> Acquire(std::string_view db_path,
                                                            std::string_view holder);
  ~SqliteStoreLock();  // releases the lock (the file stays: removing it would race)
  SqliteStoreLock(const SqliteStoreLock&) = delete;
  SqliteStoreLock& operator=(const SqliteStoreLock&) = delete;

  // The lock file.
  const std::string& path() const { return path_; }

 private:
  SqliteStoreLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace coffer
