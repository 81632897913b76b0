// The migration-ordering rule shared by the SQLite and PostgreSQL stores.
#include "store/migration_step.h"

#include <string>

namespace coffer {

StatusOr<MigrationStep> NextMigrationStep(int64_t recorded, int64_t version, int64_t known) {
  if (recorded > known) {
    return Err(FailedPreconditionError(
        "store: the database has schema version " + std::to_string(recorded) +
        ", newer than the newest this Coffer knows (" + std::to_string(known) +
        "); run a newer Coffer or restore a backup"));
  }
  if (recorded >= version) return MigrationStep::kSkip;
  if (recorded != version - 1) return Err(InternalError("store: schema migrations out of order"));
  return MigrationStep::kApply;
}

}  // namespace coffer
