// ClientCli: the client commands' rows, resource by resource, in the order `coffer --help`
// lists them.
#include "cli/client_cli.h"

#include "cli/client_command.h"
#include "client/exit_codes.h"

namespace coffer::cli {

ClientCli::ClientCli(CLI::App& app) : context_(std::make_unique<ClientContext>()) {
  app.footer(app.get_footer() +
             "\n  coffer login --addr http://127.0.0.1:8200\n"
             "  coffer secrets put prod api-keys/openai --type api_key < key.txt\n"
             "  coffer run -- ./agent.py\n\n" +
             std::string(client::ExitCodesHelp()));
  AddLoginCommands(app, *context_);
  AddVaultCommands(app, *context_);
  AddSecretCommands(app, *context_);
  AddAgentCommands(app, *context_);
  AddPolicyCommands(app, *context_);
  AddAuditCommands(app, *context_);
}

ClientCli::~ClientCli() = default;

bool ClientCli::selected() const { return static_cast<bool>(context_->action); }

int ClientCli::Run() { return context_->action(); }

}  // namespace coffer::cli
