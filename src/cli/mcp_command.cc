// `coffer mcp`: the stdio transport of the MCP server: newline-delimited JSON-RPC messages on
// stdin, answers on stdout (nothing else is written there), diagnostics on stderr.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "cli/client_commands.h"
#include "cli/exit_codes.h"
#include "cli/mcp_server.h"
#include "client/wiping_json.h"

namespace coffer::cli {
namespace {

bool WriteLine(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return ::write(STDOUT_FILENO, "\n", 1) == 1;
}

}  // namespace

int RunMcp(const ConnectionFlags& flags) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that went away is seen as a failed write
  auto c = Connect(flags);
  if (!c.has_value()) return ReportError(c.error());
  McpServer server(**c);
  client::GrowingSecretBuffer pending;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      fmt::print(stderr, "coffer mcp: cannot read stdin: {}\n", std::strerror(errno));
      SecureWipe(chunk, sizeof(chunk));
      return kExitError;
    }
    if (n == 0) break;
    pending.Append(chunk, static_cast<size_t>(n));
    std::string_view data = pending.view();
    size_t start = 0;
    for (size_t nl = data.find('\n'); nl != std::string_view::npos; nl = data.find('\n', start)) {
      std::string_view line = data.substr(start, nl - start);
      start = nl + 1;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      if (auto answer = server.HandleMessage(line); answer.has_value()) {
        if (!WriteLine(answer->view())) return kExitOk;  // the client closed its end
      }
    }
    if (start > 0) {
      client::GrowingSecretBuffer rest;
      rest.Append(data.data() + start, data.size() - start);
      pending = std::move(rest);
    }
  }
  SecureWipe(chunk, sizeof(chunk));
  return kExitOk;
}

}  // namespace coffer::cli
