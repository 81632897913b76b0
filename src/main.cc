// coffer: one binary, four programs. main parses the command line and hands it to the one that
// was named: `server` (server/), the offline commands on a store (admin/), the client commands
// (cli/), and what runs beside an agent (agent/).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>

#include "admin/admin_cli.h"
#include "agent/agent_cli.h"
#include "cli/client_cli.h"
#include "common/exit_codes.h"
#include "common/version.h"
#include "server/server_command.h"
#include "server/store_options.h"

namespace {

// The commands that read the server's configuration (the TOML file, the server's COFFER_*
// variables); client commands such as `secrets get` and `run` never do.
bool UsesServerConfig(std::string_view command) {
  return command == "init" || command == "server" || command == "backup" || command == "keys" ||
         command == "admin";
}

// What `coffer version` and `coffer --version` print.
std::string VersionLine() { return fmt::format("coffer {}", coffer::Version()); }

}  // namespace

int main(int argc, char** argv) {
  using namespace coffer;
  server::StoreOptions store_options;
  if (argc >= 2 && UsesServerConfig(argv[1])) {
    if (Status s = store_options.LoadConfigFile(argc, argv); !s.ok()) {
      fmt::print(stderr, "error: {}\n", s.message());
      return kExitUsage;
    }
  }

  CLI::App app{"Coffer: a secrets vault for AI agents and the people who run them"};
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", [] { return VersionLine(); }, "Print the version and exit");
  app.footer(
      "Examples:\n"
      "  coffer init --data-dir ./coffer-data\n"
      "  coffer server --data-dir ./coffer-data --listen 127.0.0.1:8200");

  admin::AdminCli admin_cli([&](CLI::App& cmd) { store_options.AddTo(cmd); });
  admin_cli.AddInit(app);
  CLI::App* server = server::AddServerCommand(app, store_options);
  admin_cli.AddBackup(app);
  admin_cli.AddMigrate(app);
  app.add_subcommand("version", "Print the version")->callback([] {
    fmt::print("{}\n", VersionLine());
  });
  admin_cli.AddKeys(app);
  admin_cli.AddAdmin(app);
  cli::ClientCli client_cli(
      app);  // login, logout, whoami, vaults, secrets, agents, policies, audit
  agent::AgentCli agent_cli(app);  // run, mcp

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  store_options.Finish();
  if (server->parsed()) return server::RunServer(store_options.config());
  if (admin_cli.selected()) return admin_cli.Run(store_options.config());
  if (client_cli.selected()) return client_cli.Run();
  if (agent_cli.selected()) return agent_cli.Run();
  return kExitOk;
}
