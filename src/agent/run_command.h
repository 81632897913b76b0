// `coffer run`: a command started with secrets in its environment, watched and restarted (or
// signalled) when one gets a new version.
#pragma once

#include <string>
#include <vector>

#include "client/client_config.h"

namespace coffer::agent {

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
  // NAME[=VAR_PREFIX] of the agent's bindings: <PREFIX>_BASE_URL and <PREFIX>_API_KEY point the
  // command at the gateway's proxy (--binding, agent/run_bindings.h).
  std::vector<std::string> bindings;
  std::vector<std::string> command;
};

// The child's exit code (128+N when killed by signal N), or a client exit code when coffer fails
// before starting it.
int RunRun(const client::ConnectionFlags& flags, const RunOptions& options);

}  // namespace coffer::agent
