// The registration rows and the plumbing the client command files share: connection, names to
// ids, version numbers, output, and reading a secret from a file, a pipe or a hidden prompt.
#include "cli/client_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "cli/hidden_input.h"
#include "client/exit_codes.h"
#include "client/wiping_json.h"
#include "common/ids.h"

namespace coffer::cli {

using client::CofferClient;
namespace json = boost::json;

CLI::App* ClientContext::Leaf(CLI::App* parent, const std::string& name, const std::string& help,
                              const std::string& example, std::function<int()> run, bool json) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  client::AddConnectionOptions(cmd, conn);
  if (json) cmd->add_flag("--json", json_output, "Print the server's JSON instead of a table");
  cmd->footer("Example:\n  " + example);
  cmd->callback([this, run = std::move(run)] { action = run; });
  return cmd;
}

CLI::App* ClientContext::Group(CLI::App& app, const std::string& name, const std::string& help,
                               const std::string& examples) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->require_subcommand(1);
  cmd->footer("Examples:\n" + examples + "\n\n" + std::string(client::ExitCodesHelp()));
  return cmd;
}

int ClientContext::WithClient(const std::function<Status(CofferClient&)>& body) {
  auto c = client::Connect(conn);
  if (!c.has_value()) return client::ReportError(c.error());
  Status s = body(**c);
  return s.ok() ? kExitOk : client::ReportError(s);
}

StatusOr<std::string> AgentId(CofferClient& c, const std::string& agent) {
  if (IsUuid(agent)) return agent;
  ASSIGN_OR_RETURN(auto agents, c.ListAgents());
  std::string found;
  for (const auto& a : agents) {
    if (a.name == agent && !a.is_revoked) {
      if (!found.empty()) {
        return Err(FailedPreconditionError(
            fmt::format("more than one agent is named '{}': use its id", agent)));
      }
      found = a.id;
    }
  }
  if (found.empty()) {
    return Err(NotFoundError(fmt::format("no agent named '{}' (coffer agents list)", agent)));
  }
  return found;
}

StatusOr<int64_t> ParseVersion(const std::string& text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 1) {
    return Err(InvalidArgumentError(fmt::format("version '{}' must be a positive integer", text)));
  }
  return v;
}

// --- output

void PrintJson(const json::value& v) {
  fmt::print("{}\n", json::serialize(v));
  std::fflush(stdout);
}

void WriteStdout(std::string_view bytes) {
  std::fflush(stdout);
  while (!bytes.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string OrDash(const std::optional<std::string>& s) { return s.value_or("-"); }

std::string AccessText(int64_t count, int64_t max) {
  return max > 0 ? fmt::format("{}/{}", count, max) : std::to_string(count);
}

std::vector<std::string> Headers(std::initializer_list<const char*> h) {
  return {h.begin(), h.end()};
}

// --- reading a secret

namespace {

StatusOr<SecretBuffer> ReadAllFd(int fd, std::string_view what) {
  client::GrowingSecretBuffer buffer;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      SecureWipe(chunk, sizeof(chunk));
      return Err(InternalError(fmt::format("cannot read {}: {}", what, std::strerror(errno))));
    }
    if (n == 0) break;
    buffer.Append(chunk, static_cast<size_t>(n));
  }
  SecureWipe(chunk, sizeof(chunk));
  return SecretBuffer(buffer.view());
}

}  // namespace

StatusOr<SecretBuffer> ReadSecretInput(const std::string& value_file, std::string_view prompt) {
  SecretBuffer value;
  if (!value_file.empty() && value_file != "-") {
    const int fd = ::open(value_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Err(InvalidArgumentError(
          fmt::format("cannot open --value-file {}: {}", value_file, std::strerror(errno))));
    }
    auto read = ReadAllFd(fd, value_file);
    ::close(fd);
    if (!read.has_value()) return Err(read.error());
    value = std::move(*read);
  } else if (::isatty(STDIN_FILENO)) {
    ASSIGN_OR_RETURN(value, ReadHiddenLine(STDIN_FILENO, prompt));
  } else {
    ASSIGN_OR_RETURN(value, ReadAllFd(STDIN_FILENO, "stdin"));
    size_t n = value.size();
    if (n > 0 && value.view()[n - 1] == '\n') --n;
    if (n > 0 && value.view()[n - 1] == '\r') --n;
    value.Truncate(n);
  }
  if (value.empty()) {
    return Err(InvalidArgumentError(
        "the value is empty: pipe it on stdin (printf %s \"$VALUE\" | coffer secrets put …) or "
        "use --value-file FILE"));
  }
  return value;
}

}  // namespace coffer::cli
