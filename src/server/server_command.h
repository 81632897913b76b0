// `coffer server`: its flags, and the server they configure, run until SIGTERM/SIGINT.
#pragma once

#include "server/config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::server {

class StoreOptions;

// Adds `server` and its flags to `app`, filling `options.config()`; returns the command, which
// is parsed when it was selected.
CLI::App* AddServerCommand(CLI::App& app, StoreOptions& options);

// Serves the HTTP API until SIGTERM/SIGINT; the process exit code.
int RunServer(const ServerConfig& config);

}  // namespace coffer::server
