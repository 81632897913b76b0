// The offline commands of `coffer`, run on the server machine against the store with the root
// key (init, backup, migrate, keys, admin): registered on the CLI11 app by main.cc, run after
// parsing.
#pragma once

#include <functional>
#include <memory>

#include "server/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::admin {

struct OfflineRegistry;

class AdminCli {
 public:
  // `add_store_options` adds --config, --data-dir, --store and --root-key-file to a command.
  explicit AdminCli(std::function<void(CLI::App&)> add_store_options);
  ~AdminCli();
  AdminCli(const AdminCli&) = delete;
  AdminCli& operator=(const AdminCli&) = delete;

  // Each adds one command to `app`; main.cc calls them in the order `coffer --help` lists them.
  void AddInit(CLI::App& app);
  void AddBackup(CLI::App& app);
  void AddMigrate(CLI::App& app);
  void AddKeys(CLI::App& app);
  void AddAdmin(CLI::App& app);

  // True when the parsed command line selected one of them.
  bool selected() const;
  // Runs it against `config` with core dumps off; the process exit code (0 ok, 1 error,
  // 2 usage).
  int Run(const server::ServerConfig& config);

 private:
  std::unique_ptr<OfflineRegistry> registry_;
  std::string backup_out_;
  std::string migrate_from_;
  std::string migrate_to_;
  int unseal_shares_ = 0;  // 0: a root key file (or token), not shares
  int unseal_threshold_ = 0;
};

}  // namespace coffer::admin
