// `coffer admin recover`: restores admin access offline, on the server machine, with the root
// key, when no admin API key works any more. Audited in the store's hash chain.
#pragma once

#include <functional>
#include <memory>

#include "cli/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::cli {

class AdminCli {
 public:
  // Adds `admin` and its subcommands to `app`; `add_store_options` adds --data-dir, --store,
  // --root-key-file and --config (filling `config`) to a subcommand.
  AdminCli(CLI::App& app, const std::function<void(CLI::App&)>& add_store_options);
  ~AdminCli();
  AdminCli(const AdminCli&) = delete;
  AdminCli& operator=(const AdminCli&) = delete;

  // True when the parsed command line selected an admin subcommand.
  bool selected() const;
  // Runs it against `config`; returns the process exit code (0 ok, 1 error, 2 usage).
  int Run(const ServerConfig& config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coffer::cli
