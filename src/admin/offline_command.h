// What the offline command files of admin/ share (only they include it): how a command is
// registered — with the store options, setting the action to run once the line is parsed — and
// the commands' entry points.
#pragma once

#include <functional>
#include <string>

#include "server/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::admin {

using server::ServerConfig;

// Filled by AdminCli; each command's registration adds to it.
struct OfflineRegistry {
  // Adds --config, --data-dir, --store and --root-key-file (filling the config) to a command.
  std::function<void(CLI::App&)> add_store_options;
  // Set by the parsed command's callback; run with the parsed config.
  std::function<int(const ServerConfig&)> action;
};

// `coffer keys status|rotate|reencrypt|retire` (keys_command.cc).
void AddKeysCommand(CLI::App& app, OfflineRegistry& registry);
// `coffer admin recover` (admin_command.cc).
void AddAdminCommand(CLI::App& app, OfflineRegistry& registry);

// With `shares` set (2-255), the root key is split into that many unseal shares, `threshold` of
// which open the server, instead of being written to a file (docs/operations.md, "Unseal").
struct UnsealSplit {
  int shares = 0;
  int threshold = 0;
};

// Creates the data dir (0700), root key file (0600) — or unseal.json and the unseal shares —,
// store schema and keyring, and the first admin API key; prints the key (and shares) once.
int RunInit(const ServerConfig& config, const UnsealSplit& split = {});

// Copies the embedded store to `out` (a new file) while a server may be running: one consistent
// snapshot, integrity-checked. The root key is not included.
int RunBackup(const ServerConfig& config, const std::string& out);

// Copies everything of the store `from` names into the empty store `to` names (each "sqlite:PATH",
// a path, or "postgres://…"), ciphertexts as they are (the same root key reads them), then checks
// counts, ciphertexts and the audit chain. Prints a summary; returns the exit code (0, 1 on any
// failure, 2 for bad arguments). REQUIRES: no server writes to `from` meanwhile.
int RunMigrate(const std::string& from, const std::string& to);

}  // namespace coffer::admin
