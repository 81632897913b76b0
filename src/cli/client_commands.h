// Entry points of the client commands that have files of their own (run, mcp), and helpers the
// client command files share.
#pragma once

#include <string>
#include <vector>

#include "cli/client_config.h"
#include "common/status.h"

namespace coffer::cli {

struct RunOptions {
  std::vector<std::string> bundles;  // VAULT/PATH[#N] of env_bundle secrets
  bool watch = false;
  double interval_seconds = 30;
  std::string signal_name;    // with --watch: send this instead of restarting
  double grace_seconds = 10;  // restart: time between SIGTERM and SIGKILL
  // Variables a secret may set although they change how the command starts (--allow-env NAME).
  std::vector<std::string> allow_env;
  // Give the command coffer's own connection: COFFER_TOKEN (removed otherwise), COFFER_ADDR and
  // COFFER_CA_CERT as coffer resolved them (--pass-token).
  bool pass_token = false;
  std::vector<std::string> command;
};

// `coffer run`: the child's exit code (128+N when killed by signal N), or a client exit code
// when coffer fails before starting it.
int RunRun(const ConnectionFlags& flags, const RunOptions& options);

// `coffer mcp`: serves MCP on stdin/stdout until stdin closes; 0, or a client exit code when it
// cannot start.
int RunMcp(const ConnectionFlags& flags);

// Prints "error: <message>" (with a hint for a 401 without a token) to stderr and returns the
// exit code for `status`.
int ReportError(const Status& status);

}  // namespace coffer::cli
