// `coffer migrate --from STORE --to STORE`: moves a deployment from one store to another (the
// embedded SQLite file onto PostgreSQL, or back) and verifies the result.
#pragma once

#include <string>

namespace coffer::cli {

// Copies everything of the store `from` names into the empty store `to` names (each "sqlite:PATH",
// a path, or "postgres://…"), ciphertexts as they are (the same root key reads them), then checks
// counts, ciphertexts and the audit chain. Prints a summary; returns the exit code (0, 1 on any
// failure, 2 for bad arguments). REQUIRES: no server writes to `from` meanwhile.
int RunMigrate(const std::string& from, const std::string& to);

}  // namespace coffer::cli
