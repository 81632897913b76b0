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

// Creates the data dir (0700), root key file (0600), store schema and keyring, and the first
// admin API key, which it prints once.
int RunInit(const ServerConfig& config);

// Copies the embedded store to `out` (a new file) while a server may be running: one consistent
// snapshot, integrity-checked. The root key is not included.
int RunBackup(const ServerConfig& config, const std::string& out);

// Copies everything of the store `from` names into the empty store `to` names (each "sqlite:PATH",
// a path, or "postgres://…"), ciphertexts as they are (the same root key reads them), then checks
// counts, ciphertexts and the audit chain. Prints a summary; returns the exit code (0, 1 on any
// failure, 2 for bad arguments). REQUIRES: no server writes to `from` meanwhile.
int RunMigrate(const std::string& from, const std::string& to);

}  // namespace coffer::admin
