// Where the client commands find their server and token: --addr/--token/--ca-cert flags, else
// COFFER_ADDR/COFFER_TOKEN/COFFER_CA_CERT, else the per-user config file written by
// `coffer login` ($XDG_CONFIG_HOME/coffer/config.toml or ~/.config/coffer/config.toml, mode
// 0600), else http://127.0.0.1:8200 and no token. Also the flags every client command takes.
#pragma once

#include <memory>
#include <string>

#include "client/coffer_client.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace coffer::client {

inline constexpr std::string_view kDefaultAddr = "http://127.0.0.1:8200";

// What the user passed on the command line (empty: not given).
struct ConnectionFlags {
  std::string addr;
  std::string token;
  std::string ca_cert;
  double timeout_seconds = 60;
};

// The contents of the per-user config file.
struct UserConfig {
  std::string addr;
  SecretBuffer token;
  std::string ca_cert;
};

// The config file's path: $XDG_CONFIG_HOME/coffer/config.toml, else $HOME/.config/coffer/….
// kFailedPrecondition when neither variable is set.
StatusOr<std::string> UserConfigPath();

// Reads the config file; a missing file is an empty config. kInvalidArgument naming the file and
// key for a malformed one. kFailedPrecondition naming the file, its mode and `chmod 600` when
// other users may change it, or may read it and it holds a token.
StatusOr<UserConfig> LoadUserConfig(const std::string& path);

// Writes the config file atomically (temp file + rename) with mode 0600, creating its directory
// with mode 0700. kInternal naming the path on an I/O error.
Status SaveUserConfig(const std::string& path, const UserConfig& config);

// The effective connection settings (flags > environment > config file > defaults).
struct Connection {
  std::string addr;
  SecretBuffer token;
  std::string ca_cert;
  std::string token_source;  // "--token", "COFFER_TOKEN", the config path, or "" (none)
  long timeout_ms = 60'000;
};
StatusOr<Connection> ResolveConnection(const ConnectionFlags& flags);

// A client for the resolved connection.
StatusOr<std::unique_ptr<client::CofferClient>> Connect(const ConnectionFlags& flags);

// Adds --addr, --token, --ca-cert and --timeout (the "Connection" group) to a client command.
void AddConnectionOptions(CLI::App* cmd, ConnectionFlags& conn);

}  // namespace coffer::client
