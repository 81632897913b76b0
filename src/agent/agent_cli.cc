// AgentCli: the rows of `coffer run` and `coffer mcp`, with their help.
#include "agent/agent_cli.h"

#include <CLI/CLI.hpp>

#include "agent/mcp_command.h"
#include "agent/run_command.h"
#include "client/child_env_rules.h"
#include "client/client_config.h"
#include "client/exit_codes.h"
#include "common/option_bounds.h"

namespace coffer::agent {

struct AgentCli::Flags {
  client::ConnectionFlags conn;
  RunOptions run;
  std::string mcp_vault;  // coffer mcp --vault
};

namespace {

// `words` joined by spaces into lines of at most `width` characters, each after `indent`.
std::string WrapWords(const std::vector<std::string>& words, std::string_view indent,
                      size_t width) {
  std::string out;
  std::string line(indent);
  for (const std::string& w : words) {
    if (line.size() > indent.size() && line.size() + 1 + w.size() > width) {
      out += line + "\n";
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line += ' ';
    line += w;
  }
  return out + line;
}

}  // namespace

AgentCli::AgentCli(CLI::App& app) : flags_(std::make_unique<Flags>()) {
  Flags& f = *flags_;
  CLI::App* c = app.add_subcommand(
      "run",
      "Run a command with secrets in its environment: every variable whose value is "
      "coffer://VAULT/PATH[#VERSION] is replaced by that secret, and each --bundle "
      "env_bundle secret adds its KEY=VALUE lines (overriding inherited variables). "
      "The command runs in a process group of its own: signals are passed on to the whole "
      "group, and when the command ends or is restarted, whatever it left running in the "
      "group is stopped too (SIGTERM, then SIGKILL after --grace). In the foreground of a "
      "terminal the group gets the terminal (^C and ^Z reach it directly). coffer exits "
      "with the command's exit code. A value holding a NUL byte is refused (an environment "
      "variable cannot carry one)");
  client::AddConnectionOptions(c, f.conn);
  c->callback([this] { action_ = [this] { return RunRun(flags_->conn, flags_->run); }; });
  c->add_option("--bundle,-b", f.run.bundles,
                "VAULT/PATH of an env_bundle secret to expand (repeatable)")
      ->allow_extra_args(false);
  c->add_flag("--watch,-w", f.run.watch,
              "Poll the secrets and restart the command when one gets a new version");
  c->add_option("--interval", f.run.interval_seconds, "Seconds between --watch polls")
      ->capture_default_str()
      ->check(SecondsOption(kRunInterval));
  c->add_option("--signal", f.run.signal_name,
                "With --watch: send this signal (e.g. HUP) instead of restarting");
  c->add_option("--grace", f.run.grace_seconds,
                "Seconds between SIGTERM and SIGKILL when stopping the command's process group "
                "(on restart, and for what the command leaves behind when it ends)")
      ->check(SecondsOption(kRunGrace))
      ->capture_default_str();
  c->add_option("--allow-env", f.run.allow_env,
                "Let a secret set this variable although it changes how the command starts "
                "(exact name, repeatable; the refused names are listed below)")
      ->allow_extra_args(false);
  c->add_flag("--pass-token", f.run.pass_token,
              "Give the command coffer's own COFFER_TOKEN (with COFFER_ADDR and COFFER_CA_CERT); "
              "without it COFFER_TOKEN is removed from the command's environment");
  c->add_option("--binding", f.run.bindings,
                "NAME[=VAR_PREFIX] of one of the agent's bindings: sets <PREFIX>_BASE_URL to the "
                "server's /v1/proxy/NAME and <PREFIX>_API_KEY to coffer's own token (never the "
                "secret); the prefix defaults to NAME upper-cased (repeatable; docs/gateway.md)")
      ->allow_extra_args(false);
  c->add_option("command", f.run.command, "The command and its arguments, after --")->required();
  c->positionals_at_end();  // everything from the command on is the command's
  c->footer(
      "Examples:\n"
      "  OPENAI_API_KEY=coffer://prod/api-keys/openai coffer run -- ./agent.py\n"
      "  coffer run --bundle prod/env/agent --watch --interval 10 -- ./agent.py\n"
      "  DB_PASSWORD=coffer://prod/db/password#3 coffer run -- psql\n"
      "  coffer run --bundle prod/env/build --allow-env JAVA_TOOL_OPTIONS -- ./gradlew build\n"
      "  COFFER_TOKEN=$AGENT_KEY coffer run --binding openai=OPENAI -- python agent.py\n\n"
      "A secret (a reference or a bundle line) may not set a variable that changes how the\n"
      "command starts or which code it loads, unless --allow-env names it; nothing runs if one\n"
      "does. COFFER_TOKEN is removed from the command's environment unless --pass-token.\n"
      "Refused names (NAME* is a prefix; why each is there: docs/security.md):\n" +
      WrapWords(client::StartupVariablePatterns(), "  ", 78) + "\n\n" +
      std::string(client::ExitCodesHelp()));

  c = app.add_subcommand(
      "mcp",
      "Serve the Model Context Protocol on stdin/stdout (JSON-RPC 2.0, one message per "
      "line) with tools to list, describe, read, put, rotate and delete secrets, read env "
      "bundles, list and disable versions, create vaults, grant access, share secrets, and list "
      "the agent's bindings and call APIs through them (execute_http), under this token");
  client::AddConnectionOptions(c, f.conn);
  c->add_option("--vault", f.mcp_vault,
                "The vault (name or id) of the secret tools when a call names none")
      ->envname("COFFER_VAULT");
  c->footer(
      "Example:\n  COFFER_TOKEN=$AGENT_KEY coffer mcp --vault prod   (as an MCP server command in "
      "an agent's config)");
  c->callback([this] { action_ = [this] { return RunMcp(flags_->conn, flags_->mcp_vault); }; });
}

AgentCli::~AgentCli() = default;

bool AgentCli::selected() const { return static_cast<bool>(action_); }

int AgentCli::Run() { return action_(); }

}  // namespace coffer::agent
