// The `coffer` subcommands that run on the server side: init and server. Each returns the
// process exit code.
#pragma once

#include <string>

#include "cli/config.h"

namespace coffer::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Creates the data dir (0700), root key file (0600), store schema and keyring, and the first
// admin API key, which it prints once.
int RunInit(const ServerConfig& config);

// Serves the HTTP API until SIGTERM/SIGINT.
int RunServer(const ServerConfig& config);

// Copies the embedded store to `out` (a new file) while a server may be running: one consistent
// snapshot, integrity-checked. The root key is not included.
int RunBackup(const ServerConfig& config, const std::string& out);

// Makes the process undumpable and sets RLIMIT_CORE to 0, so no core file holds key material.
void DisableCoreDumps();

}  // namespace coffer::cli
