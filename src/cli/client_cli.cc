// ClientCli: the client commands as a table, one row per resource, in the order `coffer --help`
// lists them. Each row's function adds the resource's commands (cli/*_commands.cc).
#include "cli/client_cli.h"

#include "cli/client_command.h"
#include "client/exit_codes.h"

namespace coffer::cli {

namespace {

struct Resource {
  // The group command ("vaults", …) with its help and examples; empty: the commands go on
  // `coffer` itself.
  const char* name;
  const char* help;
  const char* examples;
  // Adds the commands to the group (or to `coffer`).
  void (*add)(CLI::App* parent, ClientContext& ctx);
};

constexpr Resource kResources[] = {
    {"", "", "", AddLoginCommands},  // login, logout, whoami
    {"vaults", "Create, list, show and delete vaults",
     "  coffer vaults create prod --description 'production keys'\n"
     "  coffer vaults list\n  coffer vaults get prod\n"
     "  coffer vaults delete prod",
     AddVaultCommands},
    {"secrets", "Store, read, list, rotate and retire secrets",
     "  printf %s \"$OPENAI_KEY\" | coffer secrets put prod api-keys/openai --type api_key\n"
     "  coffer secrets get prod api-keys/openai\n  coffer secrets list prod --prefix api-keys/\n"
     "  coffer secrets rotate prod db/password --length 40 --charset alphanumeric\n"
     "  coffer secrets versions prod db/password\n  coffer secrets disable prod db/password 2\n"
     "  coffer secrets delete prod db/password",
     AddSecretCommands},
    {"agents", "Create, list, show, revoke and re-key agents",
     "  coffer agents create research-bot --description 'nightly digest'\n"
     "  coffer agents list\n  coffer agents get research-bot\n"
     "  coffer agents rotate-key research-bot\n"
     "  coffer agents revoke research-bot",
     AddAgentCommands},
    {"policies", "Grant, list and remove access to a vault's paths",
     "  coffer policies add prod --agent research-bot --path 'api-keys/*' --allow read,list\n"
     "  coffer policies list prod\n  coffer policies remove prod POLICY_ID",
     AddPolicyCommands},
    {"webhooks", "Send a vault's change events, signed, to URLs",
     "  coffer webhooks add --vault prod https://hooks.example.com/coffer --events "
     "secret.rotated\n"
     "  coffer webhooks list --vault prod\n  coffer webhooks deliveries --vault prod WEBHOOK_ID\n"
     "  coffer webhooks test --vault prod WEBHOOK_ID\n  coffer webhooks rm --vault prod WEBHOOK_ID",
     AddWebhookCommands},
    {"bindings", "Let agents use secrets at APIs without reading them (the gateway)",
     "  coffer bindings create --agent research-bot --name openai --base-url "
     "https://api.openai.com/v1 --secret prod/api-keys/openai\n"
     "  coffer bindings list --agent research-bot\n"
     "  coffer bindings update --agent research-bot openai --inactive\n"
     "  coffer bindings executions --agent research-bot\n"
     "  COFFER_TOKEN=$AGENT_KEY coffer bindings execute openai GET models",
     AddBindingCommands},
    {"audit", "Read and verify the hash-chained audit trail",
     "  coffer audit list --vault prod --action secret.read --limit 20\n"
     "  coffer audit verify",
     AddAuditCommands},
    {"operator", "Unseal, seal and ask the seal status of a server started from unseal shares",
     "  coffer operator seal-status\n  coffer operator unseal      # once per share, any k of n\n"
     "  coffer operator seal",
     AddOperatorCommands},
};

}  // namespace

ClientCli::ClientCli(CLI::App& app) : context_(std::make_unique<ClientContext>()) {
  app.footer(app.get_footer() +
             "\n  coffer login --addr http://127.0.0.1:8200\n"
             "  coffer secrets put prod api-keys/openai --type api_key < key.txt\n"
             "  coffer run -- ./agent.py\n\n" +
             std::string(client::ExitCodesHelp()));
  for (const Resource& r : kResources) {
    CLI::App* parent =
        *r.name == '\0' ? &app : ClientContext::Group(app, r.name, r.help, r.examples);
    r.add(parent, *context_);
  }
}

ClientCli::~ClientCli() = default;

bool ClientCli::selected() const { return static_cast<bool>(context_->action); }

int ClientCli::Run() { return context_->action(); }

}  // namespace coffer::cli
