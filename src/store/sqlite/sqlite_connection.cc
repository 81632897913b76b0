// SqliteConnection and SqliteStatement: thin RAII over the sqlite3 C API.
#include "store/sqlite/sqlite_connection.h"

#include <sqlite3.h>

#include "store/sqlite/sqlite_status.h"

namespace coffer {

// --- SqliteStatement ---------------------------------------------------------------------------

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(other.stmt_), in_use_(other.in_use_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
  other.in_use_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ == nullptr) {
    return;
  }
  if (in_use_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

void SqliteStatement::NoteBind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == 0) {
    bind_error_ = rc;
  }
}

void SqliteStatement::BindInt(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value));
}

void SqliteStatement::BindOptionalInt(int index, std::optional<int64_t> value) {
  if (value.has_value()) {
    BindInt(index, *value);
  } else {
    NoteBind(sqlite3_bind_null(stmt_, index));
  }
}

void SqliteStatement::BindText(int index, std::string_view value) {
  // A null data pointer would bind NULL rather than the empty string.
  const char* data = value.data() != nullptr ? value.data() : "";
  NoteBind(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

void SqliteStatement::BindBlob(int index, std::span<const uint8_t> value) {
  if (value.empty()) {
    // sqlite3_bind_blob with no data binds NULL; an empty blob is a zero-length zeroblob.
    NoteBind(sqlite3_bind_zeroblob(stmt_, index, 0));
    return;
  }
  NoteBind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT));
}

StatusOr<bool> SqliteStatement::Step() {
  if (bind_error_ != 0) {
    return Err(SqliteStatus(bind_error_, "bind"));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return Err(SqliteStatus(rc, "query", SqliteLastErrno(sqlite3_db_handle(stmt_))));
}

Status SqliteStatement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) {
      return OkStatus();
    }
  }
}

bool SqliteStatement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

int64_t SqliteStatement::ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

std::optional<int64_t> SqliteStatement::ColumnOptionalInt(int index) const {
  if (ColumnIsNull(index)) {
    return std::nullopt;
  }
  return ColumnInt(index);
}

std::string SqliteStatement::ColumnText(int index) const {
  const auto* data = sqlite3_column_text(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
}

std::vector<uint8_t> SqliteStatement::ColumnBlob(int index) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr) {
    return {};
  }
  return std::vector<uint8_t>(data, data + size);
}

// --- SqliteConnection --------------------------------------------------------------------------

StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                   Mode mode, int busy_timeout_ms) {
  // NOMUTEX: SQLite's own locking is not needed, a connection is used by one thread at a time.
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= mode == Mode::kReadWrite ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
                                    : SQLITE_OPEN_READONLY;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    sqlite3_close(db);
    return Err(SqliteStatus(code, "open " + path));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, cached] : cache_) {
    sqlite3_finalize(cached.stmt);
  }
  cache_.clear();
  sqlite3_close(db_);
}

StatusOr<SqliteStatement> SqliteConnection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return SqliteStatement(it->second.stmt, &it->second.in_use);
  }
  const bool cache = it == cache_.end();
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    // The SQL is the code's own text, so SQLite's detailed message is safe to pass on.
    const Status status = SqliteStatus(sqlite3_extended_errcode(db_), "prepare");
    return Err(Status(status.code(), std::string("store: prepare: ") + sqlite3_errmsg(db_),
                      status.payload()));
  }
  if (!cache) {
    return SqliteStatement(stmt, nullptr);
  }
  auto [slot, inserted] = cache_.emplace(std::string(sql), CachedStatement{stmt, true});
  return SqliteStatement(stmt, &slot->second.in_use);
}

Status SqliteConnection::Exec(std::string_view sql) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) {
    return OkStatus();
  }
  const int code = sqlite3_extended_errcode(db_);
  Status status = SqliteStatus(code != SQLITE_OK ? code : rc, "exec", SqliteLastErrno(db_));
  // Exec runs only the code's own parameterless SQL, so the detail holds no bound value.
  std::string message = status.message();
  if (error != nullptr) {
    message += " (";
    message += error;
    message += ")";
    sqlite3_free(error);
  }
  return Status(status.code(), std::move(message), status.payload());
}

int64_t SqliteConnection::Changes() const { return sqlite3_changes64(db_); }

bool SqliteConnection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

Status SqliteConnection::ExecCached(std::string_view sql) {
  ASSIGN_OR_RETURN(SqliteStatement st, Prepare(sql));
  return st.Run();
}

Status SqliteConnection::SyncWal() {
  // The WAL's own file handle: an fsync of it covers every frame written so far.
  sqlite3_file* wal = nullptr;
  const int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
  if (rc == SQLITE_OK && wal != nullptr && wal->pMethods != nullptr) {
    if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
      return UnavailableError("store: the write-ahead log cannot be synced");
    }
    return OkStatus();
  }
  // No open WAL: a passive checkpoint syncs whatever log there is.
  return Exec("PRAGMA wal_checkpoint(PASSIVE)");
}

}  // namespace coffer
