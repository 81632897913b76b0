// The client subcommands of `coffer` (login, logout, whoami, vaults, secrets, agents, policies,
// audit, run, mcp): registered on the CLI11 app by main.cc, run after parsing.
#pragma once

#include <memory>

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::cli {

class ClientCli {
 public:
  // Adds the client subcommands (and the exit-code table to the app's footer).
  explicit ClientCli(CLI::App& app);
  ~ClientCli();
  ClientCli(const ClientCli&) = delete;
  ClientCli& operator=(const ClientCli&) = delete;

  // True when the parsed command line selected a client command.
  bool selected() const;
  // Runs it; returns the process exit code (cli/exit_codes.h).
  int Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coffer::cli
