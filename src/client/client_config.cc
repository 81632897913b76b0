// The per-user client config file and the flags > environment > file precedence.
#include "client/client_config.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/file_mode.h"
#include "common/option_bounds.h"
#include "common/regular_file.h"

namespace coffer::client {
namespace {

constexpr size_t kMaxUserConfigBytes = 1 << 20;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return InternalError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::string> UserConfigPath() {
  std::string base = Env("XDG_CONFIG_HOME");
  if (base.empty()) {
    const std::string home = Env("HOME");
    if (home.empty()) {
      return Err(FailedPreconditionError(
          "cannot find the config directory: neither XDG_CONFIG_HOME nor HOME is set"));
    }
    base = home + "/.config";
  }
  return base + "/coffer/config.toml";
}

StatusOr<UserConfig> LoadUserConfig(const std::string& path) {
  UserConfig config;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return config;  // no file yet
  }
  // A directory or a FIFO at this path is an error naming it, never waited on.
  ASSIGN_OR_RETURN(std::string text, ReadRegularFile(path, "config file", kMaxUserConfigBytes));
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    SecureWipe(text);  // it holds the token
    const auto& where = e.source().begin;
    return Err(InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", path, where.line, where.column, std::string(e.description()))));
  }
  SecureWipe(text);
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    if (!node.is_string()) {
      return Err(InvalidArgumentError(fmt::format("{}: {} must be a string", path, k)));
    }
    const std::string& value = node.as_string()->get();
    if (k == "addr") {
      config.addr = value;
    } else if (k == "token") {
      config.token = SecretBuffer(value);
    } else if (k == "ca_cert") {
      config.ca_cert = value;
    } else {
      return Err(InvalidArgumentError(
          fmt::format("{}: unknown key '{}' (known: addr, token, ca_cert)", path, k)));
    }
  }
  // Others who can change the file choose the server the token is sent to; others who can read
  // it have the token. Refused, like a root key file (chmod 600 fixes both).
  if ((st.st_mode & 022) != 0 || (!config.token.empty() && (st.st_mode & 077) != 0)) {
    RETURN_IF_ERROR(CheckOwnerOnlyFile(st, "config file", path));
  }
  return config;
}

Status SaveUserConfig(const std::string& path, const UserConfig& config) {
  const std::filesystem::path file(path);
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  if (ec) {
    return InternalError(
        fmt::format("cannot create {}: {}", file.parent_path().string(), ec.message()));
  }
  ::chmod(file.parent_path().c_str(), 0700);
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return InternalError(fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
  }
  ::fchmod(fd, 0600);  // whatever the umask
  std::string text = "# Written by `coffer login`. Keep this file private (mode 0600).\n";
  if (!config.addr.empty()) text += "addr = " + TomlString(config.addr) + "\n";
  if (!config.ca_cert.empty()) text += "ca_cert = " + TomlString(config.ca_cert) + "\n";
  if (!config.token.empty()) text += "token = " + TomlString(config.token.view()) + "\n";
  Status written = WriteAll(fd, text, tmp);
  SecureWipe(text);
  if (written.ok() && ::fsync(fd) != 0) {
    written = InternalError(fmt::format("cannot sync {}: {}", tmp, std::strerror(errno)));
  }
  ::close(fd);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    written = InternalError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  if (!written.ok()) ::unlink(tmp.c_str());
  return written;
}

StatusOr<Connection> ResolveConnection(const ConnectionFlags& flags) {
  Connection c;
  c.timeout_ms = static_cast<long>(flags.timeout_seconds * 1000);
  UserConfig file;
  std::string file_path;
  if (auto path = UserConfigPath(); path.has_value()) {
    file_path = *path;
    ASSIGN_OR_RETURN(file, LoadUserConfig(file_path));
  }
  const std::string env_addr = Env("COFFER_ADDR");
  c.addr = !flags.addr.empty()  ? flags.addr
           : !env_addr.empty()  ? env_addr
           : !file.addr.empty() ? file.addr
                                : std::string(kDefaultAddr);
  const std::string env_ca = Env("COFFER_CA_CERT");
  c.ca_cert = !flags.ca_cert.empty() ? flags.ca_cert : !env_ca.empty() ? env_ca : file.ca_cert;
  // libcurl opens it by name: a FIFO would stall every command.
  if (!c.ca_cert.empty()) RETURN_IF_ERROR(CheckRegularFile(c.ca_cert, "CA certificate"));
  if (!flags.token.empty()) {
    c.token = SecretBuffer(flags.token);
    c.token_source = "--token";
  } else if (const char* t = std::getenv("COFFER_TOKEN"); t != nullptr && *t != '\0') {
    c.token = SecretBuffer(std::string_view(t));
    c.token_source = "COFFER_TOKEN";
  } else if (!file.token.empty()) {
    c.token = std::move(file.token);
    c.token_source = file_path;
  }
  return c;
}

StatusOr<std::unique_ptr<client::CofferClient>> Connect(const ConnectionFlags& flags) {
  ASSIGN_OR_RETURN(Connection c, ResolveConnection(flags));
  return client::CofferClient::Create(client::ClientOptions{.addr = c.addr,
                                                            .token = std::move(c.token),
                                                            .ca_cert = c.ca_cert,
                                                            .timeout_ms = c.timeout_ms});
}

void AddConnectionOptions(CLI::App* cmd, ConnectionFlags& conn) {
  cmd->add_option("--addr", conn.addr,
                  "Server URL (env COFFER_ADDR; default: login config, else http://127.0.0.1:8200)")
      ->group("Connection");
  cmd->add_option("--token", conn.token,
                  "API key or JWT (env COFFER_TOKEN, or saved by `coffer login`; prefer those: "
                  "argv is visible to other users)")
      ->group("Connection");
  cmd->add_option("--ca-cert", conn.ca_cert,
                  "PEM file of the CA that signed the server's certificate (env COFFER_CA_CERT)")
      ->group("Connection");
  cmd->add_option("--timeout", conn.timeout_seconds, "Seconds to wait for each answer")
      ->group("Connection")
      ->check(SecondsOption(kClientTimeout))
      ->capture_default_str();
}

}  // namespace coffer::client
