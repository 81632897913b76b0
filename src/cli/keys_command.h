// `coffer keys status|rotate|reencrypt|retire`: data key rotation, run on the server side against
// the store (like init, backup and migrate), safe while servers run on the same store.
#pragma once

#include <functional>
#include <memory>

#include "cli/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::cli {

class KeysCli {
 public:
  // Adds `keys` and its subcommands to `app`; `add_store_options` adds --data-dir, --store,
  // --root-key-file and --config (filling `config`) to a subcommand.
  KeysCli(CLI::App& app, const std::function<void(CLI::App&)>& add_store_options);
  ~KeysCli();
  KeysCli(const KeysCli&) = delete;
  KeysCli& operator=(const KeysCli&) = delete;

  // True when the parsed command line selected a keys subcommand.
  bool selected() const;
  // Runs it against `config`; returns the process exit code (0 ok, 1 error, 2 usage).
  int Run(const ServerConfig& config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coffer::cli
