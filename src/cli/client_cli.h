// The client commands of `coffer` that mirror the API (login, logout, whoami, vaults, secrets,
// agents, policies, audit): registered on the CLI11 app by main.cc, run after parsing. `run` and
// `mcp` are agent/'s.
#pragma once

#include <memory>

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::cli {

class ClientContext;

class ClientCli {
 public:
  // Adds the client commands (and examples and the exit-code table to the app's footer).
  explicit ClientCli(CLI::App& app);
  ~ClientCli();
  ClientCli(const ClientCli&) = delete;
  ClientCli& operator=(const ClientCli&) = delete;

  // True when the parsed command line selected a client command.
  bool selected() const;
  // Runs it; returns the process exit code (client/exit_codes.h).
  int Run();

 private:
  std::unique_ptr<ClientContext> context_;
};

}  // namespace coffer::cli
