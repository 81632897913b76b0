// One SQLite connection with its cache of prepared statements, and the RAII statement handle
// the SQLite backend runs every query through. Neither is thread-safe: a connection is used by one
// thread at a time (the writer thread, or a reader holding a pool lease).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace coffer {

// A prepared statement borrowed from a connection's cache. Its destructor resets it and clears
// its bindings, so it can neither hold a read snapshot open nor keep a bound value alive.
// REQUIRES: destroyed before its connection.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based. Values are copied. A failed bind is reported by the next Step().
  void BindInt(int index, int64_t value);
  void BindOptionalInt(int index, std::optional<int64_t> value);  // nullopt binds NULL
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::span<const uint8_t> value);

  // Advances: true when a row is ready, false when the statement is done. On failure the
  // Status comes from SqliteStatus() and never contains a bound value.
  StatusOr<bool> Step();
  // Steps until done (for INSERT/UPDATE/DELETE without RETURNING).
  Status Run();

  // Columns of the current row, 0-based. NULL reads as 0, "" or an empty blob.
  bool ColumnIsNull(int index) const;
  int64_t ColumnInt(int index) const;
  std::optional<int64_t> ColumnOptionalInt(int index) const;
  std::string ColumnText(int index) const;
  std::vector<uint8_t> ColumnBlob(int index) const;

 private:
  friend class SqliteConnection;
  // `in_use` is the cache slot's flag (cleared on destruction), or null for a statement that
  // is not cached and is finalized on destruction.
  SqliteStatement(sqlite3_stmt* stmt, bool* in_use) : stmt_(stmt), in_use_(in_use) {}
  void NoteBind(int rc);

  sqlite3_stmt* stmt_;
  bool* in_use_;
  int bind_error_ = 0;  // first failed bind's result code, 0 if none
};

class SqliteConnection {
 public:
  enum class Mode : uint8_t { kReadWrite, kReadOnly };

  // Opens `path` (kReadWrite creates it if missing). Sets the busy timeout and extended result
  // codes; the caller sets any pragmas. kUnavailable / kDataLoss / kInternal on failure.
  static StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path, Mode mode,
                                                          int busy_timeout_ms);
  ~SqliteConnection();  // finalizes every cached statement, then closes
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // The cached prepared statement for `sql` (prepared on first use). If that statement is
  // already borrowed (a nested use of the same query), a fresh uncached one is returned.
  // kInternal when `sql` does not compile.
  StatusOr<SqliteStatement> Prepare(std::string_view sql);

  // Runs one or more statements without parameters (transaction control, pragmas, DDL).
  Status Exec(std::string_view sql);
  // Runs one statement without parameters through the statement cache: for statements run
  // again and again (BEGIN, SAVEPOINT, COMMIT), which Exec would compile every time.
  Status ExecCached(std::string_view sql);

  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t Changes() const;
  // False when SQLite has no transaction open (including after it rolled one back by itself,
  // as it may on SQLITE_FULL or SQLITE_IOERR).
  bool InTransaction() const;

  // fsyncs the write-ahead log's file (every frame written so far becomes durable). A
  // connection not in WAL mode, or whose WAL is not open, checkpoints instead. kUnavailable when
  // the sync fails.
  Status SyncWal();

 private:
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, CachedStatement, StringHash, std::equal_to<>> cache_;
};

}  // namespace coffer
