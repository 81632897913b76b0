// `coffer mcp`: the stdio transport of the MCP server: newline-delimited JSON-RPC messages on
// stdin (each at most kMcpMaxMessageBytes), answers on stdout (nothing else is written there),
// diagnostics on stderr.
#include "agent/mcp_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "agent/mcp_line_reader.h"
#include "agent/mcp_server.h"
#include "client/exit_codes.h"
#include "common/secret_buffer.h"

namespace coffer::agent {

using client::ConnectionFlags;
using client::ReportError;

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

int RunMcp(const ConnectionFlags& flags, const std::string& default_vault) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that went away is seen as a failed write
  auto c = Connect(flags);
  if (!c.has_value()) return ReportError(c.error());
  McpServer server(**c, default_vault);
  McpLineReader reader(kMcpMaxMessageBytes);
  // False once the client has closed its end (the answer could not be written).
  const McpLineReader::OnLine answer = [&](const McpLineReader::Line& line) {
    if (line.too_long) {
      fmt::print(stderr, "coffer mcp: a message larger than {} bytes was discarded\n",
                 kMcpMaxMessageBytes);
      return WriteLine(McpServer::TooLargeAnswer(kMcpMaxMessageBytes).view());
    }
    auto out = server.HandleMessage(line.text);
    return !out.has_value() || WriteLine(out->view());
  };
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
    if (!reader.Feed(std::string_view(chunk, static_cast<size_t>(n)), answer)) {
      SecureWipe(chunk, sizeof(chunk));
      return kExitOk;  // the client closed its end
    }
  }
  SecureWipe(chunk, sizeof(chunk));
  reader.Finish(answer);  // a last message without a newline is answered too
  return kExitOk;
}

}  // namespace coffer::agent
