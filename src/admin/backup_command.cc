// `coffer backup`: a consistent copy of the embedded store, safe to take while the server runs.
#include <fmt/format.h>

#include <cstdio>

#include "admin/offline_command.h"
#include "common/exit_codes.h"
#include "store/sqlite/sqlite_backup.h"

namespace coffer::admin {

int RunBackup(const ServerConfig& config, const std::string& out) {
  if (out.empty()) {
    fmt::print(stderr, "error: --out FILE is required\n");
    return kExitUsage;
  }
  if (config.store.starts_with("postgres")) {
    fmt::print(stderr,
               "error: coffer backup copies the embedded SQLite store; back up a PostgreSQL "
               "store with pg_dump (see docs/operations.md)\n");
    return kExitUsage;
  }
  auto result = BackupSqliteDatabase(config.StorePath(), out);
  if (!result.has_value()) {
    fmt::print(stderr, "error: backup failed: {}\n", result.error().message());
    return kExitError;
  }
  fmt::print(
      "Backed up {} to {} ({} bytes, schema version {}).\n"
      "The root key is not in the backup: without {} (or COFFER_ROOT_KEY) it cannot be\n"
      "decrypted. Keep a copy of the root key apart from the backups.\n",
      config.StorePath(), out, result->bytes, result->schema_version, config.RootKeyFile());
  return kExitOk;
}

}  // namespace coffer::admin
