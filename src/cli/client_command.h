// What the client command files (one per resource: login, vaults, secrets, agents, policies,
// audit) share: the flags of the one command that runs, the action its callback chose, how a
// command is registered (a row each), and the plumbing every command body uses.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client_config.h"
#include "client/coffer_client.h"
#include "common/status.h"

namespace coffer::cli {

// One per process: only one leaf command is parsed and run.
class ClientContext {
 public:
  client::ConnectionFlags conn;
  bool json_output = false;
  // Set by the parsed leaf's callback; empty when no client command was selected.
  std::function<int()> action;

  // Adds the leaf command `name` to `parent`: the connection options, --json when `json`, the
  // example as its footer, and `run` as the action when it is parsed.
  CLI::App* Leaf(CLI::App* parent, const std::string& name, const std::string& help,
                 const std::string& example, std::function<int()> run, bool json = true);

  // Adds a command group (vaults, secrets, …) that requires one leaf; `examples` and the exit
  // codes are its footer.
  static CLI::App* Group(CLI::App& app, const std::string& name, const std::string& help,
                         const std::string& examples);

  // Runs `body` with a client for `conn`: kExitOk, or the failure reported and its exit code.
  int WithClient(const std::function<Status(client::CofferClient&)>& body);
};

// An agent id from an id or a name (of an agent that is not revoked). kNotFound when no agent
// has the name, kFailedPrecondition when several have it.
StatusOr<std::string> AgentId(client::CofferClient& c, const std::string& agent);

// A version number from the command line: kInvalidArgument unless a positive integer.
StatusOr<int64_t> ParseVersion(const std::string& text);

// --- output

// `v` on one line of stdout, flushed.
void PrintJson(const boost::json::value& v);
// Writes bytes to stdout exactly (no formatting, no extra newline).
void WriteStdout(std::string_view bytes);
// `s`, or "-" when absent.
std::string OrDash(const std::optional<std::string>& s);
// "count/max" for a counted secret, else "count".
std::string AccessText(int64_t count, int64_t max);
// Column headers from string literals.
std::vector<std::string> Headers(std::initializer_list<const char*> h);

// A secret from --value-file FILE (bytes as they are), or from stdin ("-" or no file): hidden
// prompt on a terminal (ReadHiddenLine: kFailedPrecondition, nothing read, when echo cannot be
// turned off), else all of stdin less one trailing newline. kInvalidArgument when the file
// cannot be opened or the value is empty.
StatusOr<SecretBuffer> ReadSecretInput(const std::string& value_file, std::string_view prompt);

// The resources' commands, added to their group command (made by client_cli.cc's table, which
// holds each group's help and examples), or to `coffer` itself for login, logout and whoami.
void AddLoginCommands(CLI::App* app, ClientContext& ctx);       // login, logout, whoami
void AddVaultCommands(CLI::App* vaults, ClientContext& ctx);    // vaults …
void AddSecretCommands(CLI::App* secrets, ClientContext& ctx);  // secrets …
// secrets schedule|unschedule (schedule_commands.cc; added by AddSecretCommands)
void AddScheduleCommands(CLI::App* secrets, ClientContext& ctx);
// secrets alias|unalias|promote|rollback|destroy (lifecycle_commands.cc)
void AddLifecycleCommands(CLI::App* secrets, ClientContext& ctx);
void AddUnusedCommand(CLI::App* secrets, ClientContext& ctx);  // secrets unused

// "90s", "30m", "12h", "30d", "2w" in seconds. kInvalidArgument naming `flag` otherwise.
// (usage_commands.cc)
StatusOr<int64_t> ParseDurationSeconds(std::string_view text, std::string_view flag);
void AddAgentCommands(CLI::App* agents, ClientContext& ctx);     // agents …
void AddPolicyCommands(CLI::App* policies, ClientContext& ctx);  // policies …
void AddAuditCommands(CLI::App* audit, ClientContext& ctx);      // audit …

// webhooks add|list|rm|deliveries|test (webhook_commands.cc)
void AddWebhookCommands(CLI::App* webhooks, ClientContext& ctx);

// bindings list|get|create|update|delete|test|executions|execute (binding_commands.cc)
void AddBindingCommands(CLI::App* bindings, ClientContext& ctx);
// operator unseal|seal-status|seal (operator_commands.cc)
void AddOperatorCommands(CLI::App* op, ClientContext& ctx);

}  // namespace coffer::cli
