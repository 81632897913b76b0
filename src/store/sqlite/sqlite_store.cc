// SqliteStore::Open and the store's lifecycle: the database file checked and configured, schema
// migrations applied, the writer and readers started, and SqliteStoreImpl's constructor,
// destructor, counters and change feed. The Store methods are in the other sqlite_*.cc files.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "common/file_mode.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/sqlite_audit_log.h"
#include "store/sqlite/sqlite_connection.h"
#include "store/sqlite/sqlite_migrations.h"
#include "store/sqlite/sqlite_reader_pool.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer {

namespace sqlite_store_internal {

SqliteStoreImpl::SqliteStoreImpl(std::unique_ptr<SqliteAuditChain> audit_chain,
                                 std::unique_ptr<GroupCommitWriter> writer,
                                 std::unique_ptr<SqliteReaderPool> readers, Random& random)
    : random_(random),
      audit_chain_(std::move(audit_chain)),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {}

SqliteStoreImpl::~SqliteStoreImpl() {
  // Readers first, so the writer's final checkpoint is the last word on the file. The audit
  // chain goes last: the writer thread uses it until it stops.
  readers_.reset();
  writer_.reset();
}

SqliteStoreStats SqliteStoreImpl::Stats() const {
  const GroupCommitStats s = writer_->Stats();
  return SqliteStoreStats{.write_ops = s.ops,
                          .commits = s.commits,
                          .syncs = s.syncs,
                          .sync_failures = s.sync_failures,
                          .largest_batch = s.largest_batch,
                          .pending_ops = s.pending};
}

Status SqliteStoreImpl::WriteChange(const StoreChange& change, const AuditEvent* audit,
                                    const WriteBody& body) {
  Status s = Write(audit, body);
  changes_.Publish(change);
  return s;
}

}  // namespace sqlite_store_internal

namespace {

// How long a connection waits for a lock held by another process before giving up (kUnavailable).
constexpr int kBusyTimeoutMs = 5000;

// Creates `path` with mode 0600 if it does not exist: the database holds wrapped keys and
// credential HMACs, and SQLite gives its -wal and -shm files the database file's mode. Then
// refuses a database, -wal or -shm file other users could read or change, and a directory they
// could write to (they could replace the files or plant a -wal): kFailedPrecondition naming the
// file, its mode and the chmod that fixes it.
Status PrepareDatabaseFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return FailedPreconditionError("store: cannot create " + path +
                                     ": its directory does not exist");
    }
    return UnavailableError("store: cannot open " + path + ": " + std::strerror(error));
  }
  struct stat st {};
  const int stat_rc = ::fstat(fd, &st);
  const int stat_error = errno;
  ::close(fd);
  if (stat_rc != 0) {
    return UnavailableError("store: cannot stat " + path + ": " + std::strerror(stat_error));
  }
  RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "store file", path));
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    if (::stat(side.c_str(), &st) == 0) {
      RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "store file", side));
    }
  }
  const std::string parent = std::filesystem::path(path).parent_path().string();
  const std::string dir = parent.empty() ? "." : parent;
  if (::stat(dir.c_str(), &st) != 0) {
    return UnavailableError("store: cannot stat " + dir + ": " + std::strerror(errno));
  }
  if (Status s = CheckPrivateDirectory(st, dir); !s.ok()) {
    return Status(s.code(), "store: " + s.message());
  }
  return OkStatus();
}

Status ConfigureWriter(SqliteConnection& db) {
  {
    ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("PRAGMA journal_mode = WAL"));
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row || st.ColumnText(0) != "wal") {
      return FailedPreconditionError("store: cannot switch the database to WAL mode");
    }
  }
  // secure_delete: a destroyed version's erased ciphertext leaves no bytes behind in freed space.
  return db.Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;");
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  if (options.path.empty()) {
    return Err(InvalidArgumentError("store: the database path is empty"));
  }
  if (options.reader_connections < 1 || options.max_batch < 1) {
    return Err(InvalidArgumentError("store: reader_connections and max_batch must be at least 1"));
  }
  if (sqlite3_threadsafe() == 0) {
    return Err(FailedPreconditionError("store: SQLite was built without thread support"));
  }
  RETURN_IF_ERROR(PrepareDatabaseFile(options.path));
  ASSIGN_OR_RETURN(auto db, SqliteConnection::Open(options.path, SqliteConnection::Mode::kReadWrite,
                                                   kBusyTimeoutMs));
  RETURN_IF_ERROR(ConfigureWriter(*db));
  RETURN_IF_ERROR(ApplySqliteMigrations(*db, SqliteMigrations(), SystemClock().Now(),
                                        options.on_migration_notice));
  // Readers open after the writer has put the file in WAL mode and created its schema.
  ASSIGN_OR_RETURN(auto readers, SqliteReaderPool::Open(options.path, options.reader_connections,
                                                        kBusyTimeoutMs));
  // When a batch's transaction is rolled back, the events it appended are gone: the cached
  // chain head is dropped and read again by the next append.
  auto audit_chain = std::make_unique<SqliteAuditChain>();
  ASSIGN_OR_RETURN(auto writer, GroupCommitWriter::Start(
                                    std::move(db), options.max_batch,
                                    [chain = audit_chain.get()] { chain->Forget(); },
                                    options.audit_sync_interval, *options.clock));
  return std::make_unique<sqlite_store_internal::SqliteStoreImpl>(
      std::move(audit_chain), std::move(writer), std::move(readers), *options.random);
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace coffer
