// The rule both backends follow when applying numbered schema migrations: apply the next one in
// order, skip what is recorded, and refuse a database written by a newer Coffer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace coffer {

// Receives what a migration changed besides the schema (data it rewrote or removed), one
// operator-facing line each, after the migration has committed. May be empty.
using MigrationNotice = std::function<void(std::string_view)>;

// What a migration's data step reports; handed to the MigrationNotice once it commits.
using MigrationNotes = std::vector<std::string>;

enum class MigrationStep : uint8_t { kApply, kSkip };

// What to do with migration `version` when the database records `recorded` and this binary
// knows migrations up to `known`. kFailedPrecondition (with an operator-facing message) when the
// database is newer than `known`; kInternal when `version` does not directly follow `recorded`.
StatusOr<MigrationStep> NextMigrationStep(int64_t recorded, int64_t version, int64_t known);

}  // namespace coffer
