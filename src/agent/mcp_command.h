// `coffer mcp`: the Model Context Protocol server on stdin/stdout, under one token.
#pragma once

#include "client/client_config.h"

namespace coffer::agent {

// Serves MCP on stdin/stdout until stdin closes; 0, or a client exit code when it cannot start.
int RunMcp(const client::ConnectionFlags& flags);

}  // namespace coffer::agent
