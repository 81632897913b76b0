// SqliteReadProblem names the real reason a backup cannot read a database (a permission, a
// read-only mount), not SQLite's "unable to open database file"; access(2) is injected, since
// tests run as root, for whom permission bits deny nothing.
#include "store/sqlite/sqlite_backup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace coffer {
namespace {

// A file system in a table: (path, mode) -> errno; anything not listed is allowed, except
// F_OK of a path in `missing`.
struct FakeAccess {
  std::map<std::pair<std::string, int>, int> denied;
  std::vector<std::string> missing;
  AccessCheck Check() const {
    return [this](const std::string& path, int mode) {
      if (mode == F_OK) {
        for (const auto& m : missing) {
          if (m == path) return ENOENT;
        }
        return 0;
      }
      auto it = denied.find({path, mode});
      return it == denied.end() ? 0 : it->second;
    };
  }
};

TEST(SqliteReadProblemTest, NamesTheFileAndTheReason) {
  const std::string db = "/data/coffer.db";
  struct Case {
    FakeAccess fs;
    std::string want;
  };
  const Case cases[] = {
      {{{}, {}}, ""},
      {{{{{"/data", X_OK}, EACCES}}, {}},
       "cannot enter the directory /data: Permission denied (run coffer backup as the user the "
       "server runs as)"},
      {{{{{db, R_OK}, EACCES}}, {}},
       "cannot read /data/coffer.db: Permission denied (run coffer "
       "backup as the user the server runs as)"},
      {{{{{db + "-wal", R_OK}, EACCES}}, {}},
       "cannot read /data/coffer.db-wal: Permission denied (run coffer backup as the user the "
       "server runs as)"},
      {{{{{db + "-shm", R_OK | W_OK}, EACCES}}, {}},
       "cannot open /data/coffer.db-shm for writing: Permission denied (run coffer backup as the "
       "user the server runs as)"},
      {{{{{"/data", W_OK}, EROFS}}, {db + "-shm", db + "-wal"}},
       "cannot create /data/coffer.db-shm: Read-only file system (SQLite writes the -shm file to "
       "read a database in WAL mode: back up from a writable mount)"},
      // The directory's write bit matters only when the -shm file must be created.
      {{{{{"/data", W_OK}, EACCES}}, {}}, ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SqliteReadProblem(db, c.fs.Check()), c.want);
  }
}

}  // namespace
}  // namespace coffer
