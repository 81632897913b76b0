// `coffer mcp`: the Model Context Protocol server on stdin/stdout, under one token.
#pragma once

#include <string>

#include "client/client_config.h"

namespace coffer::agent {

// Serves MCP on stdin/stdout until stdin closes; 0, or a client exit code when it cannot start.
// `default_vault` (empty: none) is the vault of the secret tools whose call names none.
int RunMcp(const client::ConnectionFlags& flags, const std::string& default_vault);

}  // namespace coffer::agent
