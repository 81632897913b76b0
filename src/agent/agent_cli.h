// The commands of `coffer` that run beside an agent (`run`, `mcp`): registered on the CLI11 app
// by main.cc, run after parsing.
#pragma once

#include <functional>
#include <memory>

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::agent {

class AgentCli {
 public:
  // Adds `run` and `mcp` to `app`.
  explicit AgentCli(CLI::App& app);
  ~AgentCli();
  AgentCli(const AgentCli&) = delete;
  AgentCli& operator=(const AgentCli&) = delete;

  // True when the parsed command line selected `run` or `mcp`.
  bool selected() const;
  // Runs it; returns the process exit code (client/exit_codes.h, or the child's for `run`).
  int Run();

 private:
  struct Flags;
  std::unique_ptr<Flags> flags_;
  std::function<int()> action_;
};

}  // namespace coffer::agent
