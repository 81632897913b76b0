// The client commands that mirror the API (login, logout, whoami, vaults, secrets, agents,
// policies, audit) and the registration of every client command with CLI11.
#include "cli/client_commands.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>

#include "cli/client_cli.h"
#include "cli/client_config.h"
#include "cli/exit_codes.h"
#include "cli/option_bounds.h"
#include "cli/table.h"
#include "client/child_env_rules.h"
#include "client/coffer_client.h"
#include "client/problem.h"
#include "client/wiping_json.h"
#include "common/ids.h"

namespace coffer::cli {

using client::CofferClient;
namespace json = boost::json;

int ReportError(const Status& status) {
  fmt::print(stderr, "error: {}\n", status.message());
  if (status.code() == StatusCode::kUnauthenticated) {
    fmt::print(stderr,
               "hint: give a valid API key with COFFER_TOKEN, --token, or `coffer login`\n");
  }
  return ExitCodeFor(status);
}

namespace {

constexpr std::string_view kSecretTypes =
    "password, api_key, private_key, certificate, file, note, ssh_key, env_bundle";

void PrintJson(const json::value& v) {
  fmt::print("{}\n", json::serialize(v));
  std::fflush(stdout);
}

std::string OrDash(const std::optional<std::string>& s) { return s.value_or("-"); }

// Writes bytes to stdout exactly (no formatting, no extra newline).
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

// Reads one line from the terminal with echo off; `prompt` goes to stderr.
StatusOr<SecretBuffer> ReadHidden(std::string_view prompt) {
  fmt::print(stderr, "{}", prompt);
  std::fflush(stderr);
  termios old{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  client::GrowingSecretBuffer line;
  char c = 0;
  while (::read(STDIN_FILENO, &c, 1) == 1 && c != '\n') {
    if (c != '\r') line.Append(&c, 1);
  }
  c = 0;
  if (tty) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fmt::print(stderr, "\n");
  return SecretBuffer(line.view());
}

// A secret from --value-file FILE (bytes as they are), or from stdin ("-" or no file): hidden
// prompt on a terminal, else all of stdin less one trailing newline.
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
    ASSIGN_OR_RETURN(value, ReadHidden(prompt));
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

StatusOr<int64_t> ParseVersion(const std::string& text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 1) {
    return Err(InvalidArgumentError(fmt::format("version '{}' must be a positive integer", text)));
  }
  return v;
}

std::string AccessText(int64_t count, int64_t max) {
  return max > 0 ? fmt::format("{}/{}", count, max) : std::to_string(count);
}

}  // namespace

// Option storage and the command bodies. One instance per process; only one command runs.
struct ClientCli::Impl {
  ConnectionFlags conn;
  bool json_output = false;
  std::function<int()> action;

  // Shared positional/option storage (only one leaf is parsed per run).
  std::string vault, path, name, description, id, version_text, prefix;
  std::string argv_value;  // only to refuse it
  std::string type = "password", value_file, metadata, expires_at, rotation_policy;
  int64_t max_access_count = -1;
  int64_t length = 0;
  std::string charset, rotate_type;
  std::string agent, user, pattern;
  std::vector<std::string> permissions;
  std::string actor, audit_action, since, until;
  int64_t limit = 0, after = 0;
  bool all_pages = false;
  RunOptions run;

  // --- plumbing

  StatusOr<std::unique_ptr<CofferClient>> Client() { return Connect(conn); }

  template <typename Body>
  int WithClient(Body body) {
    auto c = Client();
    if (!c.has_value()) return ReportError(c.error());
    Status s = body(**c);
    return s.ok() ? kExitOk : ReportError(s);
  }

  // The vault id for `vault` (a name or an id).
  static StatusOr<std::string> VaultId(CofferClient& c, const std::string& vault) {
    return c.ResolveVault(vault);
  }

  // An agent id from an id or a name.
  static StatusOr<std::string> AgentId(CofferClient& c, const std::string& agent) {
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

  // --- login, logout, whoami

  int Login() {
    auto path = UserConfigPath();
    if (!path.has_value()) return ReportError(path.error());
    auto existing = LoadUserConfig(*path);
    if (!existing.has_value()) return ReportError(existing.error());
    ConnectionFlags flags = conn;
    SecretBuffer token;
    if (!flags.token.empty()) {
      token = SecretBuffer(flags.token);
    } else if (const char* t = std::getenv("COFFER_TOKEN"); t != nullptr && *t != '\0') {
      token = SecretBuffer(std::string_view(t));
    } else {
      auto read = ReadSecretInput("", "API key: ");
      if (!read.has_value()) return ReportError(read.error());
      token = std::move(*read);
    }
    auto resolved = ResolveConnection(flags);
    if (!resolved.has_value()) return ReportError(resolved.error());
    auto c = CofferClient::Create(client::ClientOptions{.addr = resolved->addr,
                                                        .token = token.Clone(),
                                                        .ca_cert = resolved->ca_cert,
                                                        .timeout_ms = resolved->timeout_ms});
    if (!c.has_value()) return ReportError(c.error());
    auto me = (*c)->GetMe();
    if (!me.has_value()) return ReportError(me.error());
    UserConfig config{
        .addr = resolved->addr, .token = std::move(token), .ca_cert = resolved->ca_cert};
    if (Status s = SaveUserConfig(*path, config); !s.ok()) return ReportError(s);
    if (json_output) {
      json::object o = me->json;
      o["addr"] = resolved->addr;
      o["config"] = *path;
      PrintJson(o);
    } else {
      fmt::print("Logged in to {} as {} {}{}. Token saved in {} (mode 0600).\n", resolved->addr,
                 me->type, me->name, me->is_admin ? " (admin)" : "", *path);
    }
    return kExitOk;
  }

  int Logout() {
    auto path = UserConfigPath();
    if (!path.has_value()) return ReportError(path.error());
    auto config = LoadUserConfig(*path);
    if (!config.has_value()) return ReportError(config.error());
    config->token = SecretBuffer();
    if (Status s = SaveUserConfig(*path, *config); !s.ok()) return ReportError(s);
    fmt::print("Removed the token from {}.\n", *path);
    return kExitOk;
  }

  int Whoami() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(client::Me me, c.GetMe());
      if (json_output) {
        PrintJson(me.json);
      } else {
        fmt::print("{}",
                   RenderTable({"TYPE", "NAME", "ID", "ADMIN", "SERVER"},
                               {{me.type, me.name, me.id, me.is_admin ? "yes" : "no", c.addr()}}));
      }
      return OkStatus();
    });
  }

  // --- vaults

  static std::vector<std::string> VaultRow(const client::Vault& v) {
    return {v.name, v.id, v.description, v.created_at};
  }
  static constexpr std::initializer_list<const char*> kVaultHeaders = {"NAME", "ID", "DESCRIPTION",
                                                                       "CREATED"};
  static std::vector<std::string> Headers(std::initializer_list<const char*> h) {
    return {h.begin(), h.end()};
  }

  int VaultsCreate() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(client::Vault v, c.CreateVault(name, description));
      if (json_output) {
        PrintJson(v.json);
      } else {
        fmt::print("Created vault {} ({})\n", v.name, v.id);
      }
      return OkStatus();
    });
  }

  int VaultsList() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(auto vaults, c.ListVaults());
      if (json_output) {
        json::array items;
        for (const auto& v : vaults) items.push_back(v.json);
        PrintJson(json::object{{"vaults", std::move(items)}});
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : vaults) rows.push_back(VaultRow(v));
      fmt::print("{}", RenderTable(Headers(kVaultHeaders), rows));
      return OkStatus();
    });
  }

  int VaultsGet() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      ASSIGN_OR_RETURN(client::Vault v, c.GetVault(vault_id));
      if (json_output) {
        PrintJson(v.json);
      } else {
        fmt::print("{}", RenderTable(Headers(kVaultHeaders), {VaultRow(v)}));
      }
      return OkStatus();
    });
  }

  int VaultsDelete() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      RETURN_IF_ERROR(c.DeleteVault(vault_id));
      if (json_output) {
        PrintJson(json::object{{"deleted", true}, {"id", vault_id}});
      } else {
        fmt::print("Deleted vault {} and every secret in it\n", vault);
      }
      return OkStatus();
    });
  }

  // --- secrets

  void PrintMeta(const client::SecretMeta& m, std::string_view verb) {
    if (json_output) {
      PrintJson(m.json);
    } else {
      fmt::print("{} {}: version {} ({})\n", verb, m.path, m.version, m.type);
    }
  }

  int SecretsPut() {
    if (!argv_value.empty()) {
      SecureWipe(argv_value);
      return ReportError(InvalidArgumentError(
          "--value is refused: a value on the command line lands in shell history and `ps`; "
          "pipe it on stdin or use --value-file FILE"));
    }
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      client::PutSecretInput input;
      input.type = type;
      ASSIGN_OR_RETURN(input.value,
                       ReadSecretInput(value_file, fmt::format("Value for {} (hidden): ", path)));
      if (!metadata.empty()) input.metadata_json = metadata;
      if (!rotation_policy.empty()) input.rotation_policy_json = rotation_policy;
      if (!expires_at.empty()) input.expires_at = expires_at;
      if (max_access_count >= 0) input.max_access_count = max_access_count;
      ASSIGN_OR_RETURN(client::SecretMeta m, c.PutSecret(vault_id, path, std::move(input)));
      PrintMeta(m, "Stored");
      return OkStatus();
    });
  }

  int SecretsGet() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      StatusOr<client::SecretValue> got;
      if (!version_text.empty()) {
        ASSIGN_OR_RETURN(int64_t v, ParseVersion(version_text));
        got = c.GetSecretVersion(vault_id, path, v);
      } else {
        got = c.GetSecret(vault_id, path);
      }
      if (!got.has_value()) return got.error();
      if (json_output) {
        client::WipedJson doc;
        json::object o(doc.storage());
        for (const auto& kv : got->meta.json) o[kv.key()] = kv.value();
        o["value"] = json::string(got->value.view(), doc.storage());
        doc.value() = std::move(o);
        SecretBuffer text = doc.Serialize();
        WriteStdout(text.view());
        WriteStdout("\n");
      } else {
        WriteStdout(got->value.view());
        if (::isatty(STDOUT_FILENO) && !got->value.view().ends_with('\n')) WriteStdout("\n");
      }
      return OkStatus();
    });
  }

  int SecretsList() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(vault_id, prefix));
      if (json_output) {
        json::array items;
        for (const auto& s : secrets) items.push_back(s.json);
        PrintJson(json::object{{"secrets", std::move(items)}});
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& s : secrets) {
        rows.push_back({s.path, s.type, std::to_string(s.version), s.created_at,
                        OrDash(s.expires_at), AccessText(s.access_count, s.max_access_count)});
      }
      fmt::print("{}",
                 RenderTable({"PATH", "TYPE", "VERSION", "UPDATED", "EXPIRES", "READS"}, rows));
      return OkStatus();
    });
  }

  int SecretsDelete() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      RETURN_IF_ERROR(c.DeleteSecret(vault_id, path));
      if (json_output) {
        PrintJson(json::object{{"deleted", true}, {"path", path}});
      } else {
        fmt::print("Deleted {} and all its versions\n", path);
      }
      return OkStatus();
    });
  }

  int SecretsVersions() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      ASSIGN_OR_RETURN(client::VersionList list, c.ListVersions(vault_id, path));
      if (json_output) {
        PrintJson(list.json);
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : list.versions) {
        rows.push_back({std::to_string(v.version), v.type, v.is_disabled ? "disabled" : "active",
                        v.created_at, OrDash(v.expires_at),
                        AccessText(v.access_count, v.max_access_count)});
      }
      fmt::print("{}",
                 RenderTable({"VERSION", "TYPE", "STATE", "CREATED", "EXPIRES", "READS"}, rows));
      return OkStatus();
    });
  }

  int SecretsRotate() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      client::RotateSecretInput input;
      if (length > 0) input.length = length;
      if (!charset.empty()) input.charset = charset;
      if (!rotate_type.empty()) input.type = rotate_type;
      ASSIGN_OR_RETURN(client::SecretMeta m, c.RotateSecret(vault_id, path, input));
      PrintMeta(m, "Rotated");
      return OkStatus();
    });
  }

  int SecretsDisable() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(int64_t v, ParseVersion(version_text));
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      ASSIGN_OR_RETURN(client::SecretMeta m, c.DisableVersion(vault_id, path, v));
      if (json_output) {
        PrintJson(m.json);
      } else {
        fmt::print("Disabled version {} of {}\n", m.version, m.path);
      }
      return OkStatus();
    });
  }

  // --- agents

  static std::vector<std::string> AgentRow(const client::Agent& a) {
    return {a.name, a.id, a.is_revoked ? "revoked" : "active", a.description, a.created_at};
  }
  static constexpr std::initializer_list<const char*> kAgentHeaders = {"NAME", "ID", "STATE",
                                                                       "DESCRIPTION", "CREATED"};

  void PrintCredentials(const client::AgentCredentials& a, std::string_view verb) {
    if (json_output) {
      client::WipedJson doc;
      json::object o(doc.storage());
      for (const auto& kv : a.agent.json) o[kv.key()] = kv.value();
      o["api_key"] = json::string(a.api_key.view(), doc.storage());
      o["rotation_secret"] = json::string(a.rotation_secret.view(), doc.storage());
      doc.value() = std::move(o);
      SecretBuffer text = doc.Serialize();
      WriteStdout(text.view());
      WriteStdout("\n");
      return;
    }
    fmt::print("{} agent {} ({})\n\nShown only this once; store them somewhere safe:\n", verb,
               a.agent.name, a.agent.id);
    std::fflush(stdout);
    WriteStdout("  API key:          ");
    WriteStdout(a.api_key.view());
    WriteStdout("\n  rotation secret:  ");
    WriteStdout(a.rotation_secret.view());
    WriteStdout("\n");
  }

  int AgentsCreate() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(client::AgentCredentials a, c.CreateAgent(name, description));
      PrintCredentials(a, "Created");
      return OkStatus();
    });
  }

  int AgentsList() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(auto agents, c.ListAgents());
      if (json_output) {
        json::array items;
        for (const auto& a : agents) items.push_back(a.json);
        PrintJson(json::object{{"agents", std::move(items)}});
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& a : agents) rows.push_back(AgentRow(a));
      fmt::print("{}", RenderTable(Headers(kAgentHeaders), rows));
      return OkStatus();
    });
  }

  int AgentsGet() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, AgentId(c, agent));
      ASSIGN_OR_RETURN(client::Agent a, c.GetAgent(agent_id));
      if (json_output) {
        PrintJson(a.json);
      } else {
        fmt::print("{}", RenderTable(Headers(kAgentHeaders), {AgentRow(a)}));
      }
      return OkStatus();
    });
  }

  int AgentsRevoke() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, AgentId(c, agent));
      RETURN_IF_ERROR(c.RevokeAgent(agent_id));
      if (json_output) {
        PrintJson(json::object{{"revoked", true}, {"id", agent_id}});
      } else {
        fmt::print("Revoked agent {}: its API key and rotation secret no longer work\n", agent);
      }
      return OkStatus();
    });
  }

  int AgentsRotateKey() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, AgentId(c, agent));
      ASSIGN_OR_RETURN(client::AgentCredentials a, c.RotateAgentKey(agent_id));
      PrintCredentials(a, "Rotated the key of");
      return OkStatus();
    });
  }

  // --- policies

  int PoliciesAdd() {
    if (agent.empty() == user.empty()) {
      return ReportError(
          InvalidArgumentError("name exactly one principal: --agent AGENT or --user USER_ID"));
    }
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      client::PolicyInput input;
      if (!agent.empty()) {
        input.principal_type = "agent";
        ASSIGN_OR_RETURN(input.principal_id, AgentId(c, agent));
      } else {
        input.principal_type = "user";
        input.principal_id = user;
      }
      input.secret_path_pattern = pattern;
      for (const std::string& p : permissions) {
        // Accept "read,list" as well as repeated flags.
        size_t start = 0;
        while (start <= p.size()) {
          const size_t comma = p.find(',', start);
          std::string one =
              p.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!one.empty()) input.permissions.push_back(one);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      if (!expires_at.empty()) input.expires_at = expires_at;
      ASSIGN_OR_RETURN(client::Policy p, c.CreatePolicy(vault_id, input));
      if (json_output) {
        PrintJson(p.json);
      } else {
        fmt::print("Added policy {}: {} {} may {} on {}\n", p.id, p.principal_type, p.principal_id,
                   fmt::join(p.permissions, ","), p.secret_path_pattern);
      }
      return OkStatus();
    });
  }

  int PoliciesList() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      ASSIGN_OR_RETURN(auto policies, c.ListPolicies(vault_id));
      if (json_output) {
        json::array items;
        for (const auto& p : policies) items.push_back(p.json);
        PrintJson(json::object{{"policies", std::move(items)}});
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : policies) {
        rows.push_back({p.id, p.principal_type, p.principal_id, p.secret_path_pattern,
                        fmt::format("{}", fmt::join(p.permissions, ",")), OrDash(p.expires_at)});
      }
      fmt::print("{}",
                 RenderTable({"ID", "PRINCIPAL", "PRINCIPAL_ID", "PATHS", "PERMISSIONS", "EXPIRES"},
                             rows));
      return OkStatus();
    });
  }

  int PoliciesRemove() {
    return WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, VaultId(c, vault));
      RETURN_IF_ERROR(c.DeletePolicy(vault_id, id));
      if (json_output) {
        PrintJson(json::object{{"deleted", true}, {"id", id}});
      } else {
        fmt::print("Removed policy {}\n", id);
      }
      return OkStatus();
    });
  }

  // --- audit

  int AuditList() {
    return WithClient([&](CofferClient& c) -> Status {
      client::AuditQuery q;
      if (!vault.empty()) {
        ASSIGN_OR_RETURN(q.vault_id, VaultId(c, vault));
      }
      q.actor_id = actor;
      q.action = audit_action;
      q.since = since;
      q.until = until;
      if (after > 0) q.after = after;
      if (limit > 0) q.limit = limit;
      std::vector<client::AuditEvent> events;
      std::optional<int64_t> next;
      for (int page = 0; page < 100'000; ++page) {
        ASSIGN_OR_RETURN(client::AuditPage p, c.ListAudit(q));
        for (auto& e : p.events) events.push_back(std::move(e));
        next = p.next_after;
        if (!all_pages || !next.has_value()) break;
        q.after = *next;
      }
      if (json_output) {
        json::array items;
        for (const auto& e : events) items.push_back(e.json);
        json::object o{{"events", std::move(items)}};
        o["next_after"] = next.has_value() ? json::value(*next) : json::value(nullptr);
        PrintJson(o);
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& e : events) {
        const std::string actor_text =
            e.actor_id.empty() ? e.actor_type : fmt::format("{}:{}", e.actor_type, e.actor_id);
        rows.push_back({std::to_string(e.seq), e.at, actor_text, e.action, e.vault_id, e.path,
                        e.version > 0 ? std::to_string(e.version) : "",
                        e.count > 1 ? fmt::format("{} x{}", e.outcome, e.count) : e.outcome,
                        std::to_string(e.http_status)});
      }
      fmt::print("{}", RenderTable({"SEQ", "AT", "ACTOR", "ACTION", "VAULT", "PATH", "VERSION",
                                    "OUTCOME", "HTTP"},
                                   rows));
      if (next.has_value() && !all_pages) {
        fmt::print(stderr, "(more: --after {} or --all)\n", *next);
      }
      return OkStatus();
    });
  }

  int AuditVerify() {
    auto c = Client();
    if (!c.has_value()) return ReportError(c.error());
    auto v = (*c)->VerifyAudit();
    if (!v.has_value()) return ReportError(v.error());
    if (json_output) {
      PrintJson(v->json);
    } else if (v->ok) {
      fmt::print("Audit chain intact: {} events checked, head {}\n", v->events_checked,
                 v->head_hash);
    } else {
      fmt::print("Audit chain BROKEN at event {}: {} ({} events checked)\n",
                 v->first_broken_seq.value_or(0), v->reason.value_or("unknown reason"),
                 v->events_checked);
    }
    return v->ok ? kExitOk : kExitError;
  }
};

// --- Registration ---------------------------------------------------------------------------

namespace {

// `words` joined by spaces into lines of at most `width` characters, each after `indent`.
std::string WrapWords(const std::vector<std::string>& words, std::string_view indent,
                      size_t width) {
  std::string out;
  std::string line(indent);
  for (const std::string& w : words) {
    if (line.size() > indent.size() && line.size() + 1 + w.size() > width) {
      out += line + "\n";
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line += ' ';
    line += w;
  }
  return out + line;
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

}  // namespace

ClientCli::ClientCli(CLI::App& app) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  app.footer(app.get_footer() +
             "\n  coffer login --addr http://127.0.0.1:8200\n"
             "  coffer secrets put prod api-keys/openai --type api_key < key.txt\n"
             "  coffer run -- ./agent.py\n\n" +
             std::string(ExitCodesHelp()));

  // A leaf command: connection options, --json when it prints, an example, and its action.
  auto leaf = [&m](CLI::App* parent, const std::string& name, const std::string& help,
                   const std::string& example, int (Impl::*fn)(), bool json = true) {
    CLI::App* cmd = parent->add_subcommand(name, help);
    AddConnectionOptions(cmd, m.conn);
    if (json) cmd->add_flag("--json", m.json_output, "Print the server's JSON instead of a table");
    cmd->footer("Example:\n  " + example);
    cmd->callback([&m, fn] { m.action = [&m, fn] { return (m.*fn)(); }; });
    return cmd;
  };
  auto group = [&app](const std::string& name, const std::string& help,
                      const std::string& examples) {
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->require_subcommand(1);
    cmd->footer("Examples:\n" + examples + "\n\n" + std::string(ExitCodesHelp()));
    return cmd;
  };

  // login / logout / whoami
  CLI::App* login =
      leaf(&app, "login",
           "Check an API key against the server and save it (and --addr) in "
           "~/.config/coffer/config.toml, mode 0600. The key is read hidden from "
           "the terminal, or from stdin, or COFFER_TOKEN",
           "coffer login --addr https://coffer.internal:8200 < admin-key.txt", &Impl::Login);
  (void)login;
  leaf(&app, "logout", "Remove the saved token from the config file", "coffer logout",
       &Impl::Logout, false);
  leaf(&app, "whoami", "Show who the token belongs to", "coffer whoami --json", &Impl::Whoami);

  // vaults
  CLI::App* vaults = group("vaults", "Create, list, show and delete vaults",
                           "  coffer vaults create prod --description 'production keys'\n"
                           "  coffer vaults list\n  coffer vaults get prod\n"
                           "  coffer vaults delete prod");
  CLI::App* c =
      leaf(vaults, "create", "Create a vault", "coffer vaults create prod", &Impl::VaultsCreate);
  c->add_option("name", m.name, "Vault name")->required();
  c->add_option("--description,-d", m.description, "What the vault holds");
  leaf(vaults, "list", "List the vaults you can see", "coffer vaults list --json",
       &Impl::VaultsList);
  c = leaf(vaults, "get", "Show one vault", "coffer vaults get prod", &Impl::VaultsGet);
  c->add_option("vault", m.vault, "Vault name or id")->required();
  c = leaf(vaults, "delete", "Delete a vault and every secret in it",
           "coffer vaults delete staging", &Impl::VaultsDelete);
  c->add_option("vault", m.vault, "Vault name or id")->required();

  // secrets
  CLI::App* secrets = group(
      "secrets", "Store, read, list, rotate and retire secrets",
      "  printf %s \"$OPENAI_KEY\" | coffer secrets put prod api-keys/openai --type api_key\n"
      "  coffer secrets get prod api-keys/openai\n  coffer secrets list prod --prefix api-keys/\n"
      "  coffer secrets rotate prod db/password --length 40 --charset alphanumeric\n"
      "  coffer secrets versions prod db/password\n  coffer secrets disable prod db/password 2\n"
      "  coffer secrets delete prod db/password");
  auto vault_path = [&m](CLI::App* cmd) {
    cmd->add_option("vault", m.vault, "Vault name or id")->required();
    cmd->add_option("path", m.path, "Secret path, e.g. api-keys/openai")->required();
  };
  c = leaf(secrets, "put",
           "Store a new version of a secret. The value is read from stdin (hidden prompt on a "
           "terminal; one trailing newline dropped) or --value-file, never from the command line",
           "printf %s \"$OPENAI_KEY\" | coffer secrets put prod api-keys/openai --type api_key "
           "--metadata '{\"team\":\"ml\"}'",
           &Impl::SecretsPut);
  vault_path(c);
  c->add_option("--type,-t", m.type, std::string("Secret type: ") + std::string(kSecretTypes))
      ->capture_default_str();
  c->add_option("--value-file,-f", m.value_file,
                "Read the value from FILE, byte for byte ('-': stdin)");
  c->add_option("--metadata,-m", m.metadata, "JSON object of metadata, e.g. '{\"team\":\"ml\"}'");
  c->add_option("--expires-at", m.expires_at, "RFC 3339 time after which reads get 410 Gone");
  c->add_option("--max-access-count", m.max_access_count,
                "Reads allowed before the version is spent (0: unlimited)");
  c->add_option("--rotation-policy", m.rotation_policy, "JSON object stored with the secret");
  // Taken only to refuse it with a reason (CLI11 would echo an unknown option's value).
  c->add_option("--value", m.argv_value, "Refused: use stdin or --value-file")->group("");
  c = leaf(secrets, "get",
           "Print a secret's value, bare (for $(…) and pipes); --json adds its metadata",
           "export OPENAI_API_KEY=$(coffer secrets get prod api-keys/openai)", &Impl::SecretsGet);
  vault_path(c);
  c->add_option("--version,-V", m.version_text, "A specific version instead of the latest");
  c = leaf(secrets, "list", "List the secrets of a vault (metadata only, never values)",
           "coffer secrets list prod --prefix api-keys/", &Impl::SecretsList);
  c->add_option("vault", m.vault, "Vault name or id")->required();
  c->add_option("--prefix,-p", m.prefix, "Only paths starting with this");
  c = leaf(secrets, "delete", "Delete a secret and all its versions",
           "coffer secrets delete prod api-keys/old", &Impl::SecretsDelete);
  vault_path(c);
  c = leaf(secrets, "versions", "List every version of a secret, newest first",
           "coffer secrets versions prod api-keys/openai", &Impl::SecretsVersions);
  vault_path(c);
  c = leaf(secrets, "rotate",
           "Store a new server-generated value (never sent to or shown by the client)",
           "coffer secrets rotate prod db/password --length 40 --charset alphanumeric",
           &Impl::SecretsRotate);
  vault_path(c);
  c->add_option("--length,-l", m.length, "Length of the new value, 8-1024 (server default 32)");
  c->add_option("--charset,-c", m.charset, "hex, base64, alphanumeric or ascii (default hex)");
  c->add_option("--type,-t", m.rotate_type, "Change the secret's type with this version");
  c = leaf(secrets, "disable", "Disable one version: reads of it get 410, the row is kept",
           "coffer secrets disable prod api-keys/openai 3", &Impl::SecretsDisable);
  vault_path(c);
  c->add_option("version", m.version_text, "Version number")->required();

  // agents
  CLI::App* agents = group("agents", "Create, list, show, revoke and re-key agents",
                           "  coffer agents create research-bot --description 'nightly digest'\n"
                           "  coffer agents list\n  coffer agents get research-bot\n"
                           "  coffer agents rotate-key research-bot\n"
                           "  coffer agents revoke research-bot");
  c = leaf(agents, "create", "Create an agent; prints its API key and rotation secret once",
           "coffer agents create research-bot --description 'nightly digest'", &Impl::AgentsCreate);
  c->add_option("name", m.name, "Agent name")->required();
  c->add_option("--description,-d", m.description, "What the agent does");
  leaf(agents, "list", "List your agents (the admin: all)", "coffer agents list",
       &Impl::AgentsList);
  c = leaf(agents, "get", "Show one agent", "coffer agents get research-bot", &Impl::AgentsGet);
  c->add_option("agent", m.agent, "Agent name or id")->required();
  c = leaf(agents, "revoke", "Revoke an agent: its key stops working at once",
           "coffer agents revoke research-bot", &Impl::AgentsRevoke);
  c->add_option("agent", m.agent, "Agent name or id")->required();
  c = leaf(agents, "rotate-key",
           "Give an agent a new API key and rotation secret (printed once); the old ones stop "
           "working at once",
           "coffer agents rotate-key research-bot", &Impl::AgentsRotateKey);
  c->add_option("agent", m.agent, "Agent name or id")->required();

  // policies
  CLI::App* policies = group(
      "policies", "Grant, list and remove access to a vault's paths",
      "  coffer policies add prod --agent research-bot --path 'api-keys/*' --allow read,list\n"
      "  coffer policies list prod\n  coffer policies remove prod POLICY_ID");
  c = leaf(policies, "add", "Grant a principal permissions on paths of a vault",
           "coffer policies add prod --agent research-bot --path 'api-keys/**' --allow read,list",
           &Impl::PoliciesAdd);
  c->add_option("vault", m.vault, "Vault name or id")->required();
  c->add_option("--agent,-a", m.agent, "Agent name or id");
  c->add_option("--user,-u", m.user, "User id");
  c->add_option("--path,-p", m.pattern,
                "Path pattern: * within a segment, ** any depth (e.g. api-keys/*)")
      ->required();
  c->add_option("--allow,--permissions", m.permissions,
                "read, write, rotate, delete, list (comma-separated or repeated)")
      ->required();
  c->add_option("--expires-at", m.expires_at, "RFC 3339 time after which it grants nothing");
  c = leaf(policies, "list", "List a vault's policies", "coffer policies list prod",
           &Impl::PoliciesList);
  c->add_option("vault", m.vault, "Vault name or id")->required();
  c = leaf(policies, "remove", "Remove a policy", "coffer policies remove prod POLICY_ID",
           &Impl::PoliciesRemove);
  c->add_option("vault", m.vault, "Vault name or id")->required();
  c->add_option("policy", m.id, "Policy id")->required();

  // audit
  CLI::App* audit = group("audit", "Read and verify the hash-chained audit trail",
                          "  coffer audit list --vault prod --action secret.read --limit 20\n"
                          "  coffer audit verify");
  c = leaf(audit, "list", "List audit events, oldest first",
           "coffer audit list --vault prod --since 2026-01-01T00:00:00Z", &Impl::AuditList);
  c->add_option("--vault", m.vault, "Only this vault (name or id; required unless admin)");
  c->add_option("--actor", m.actor, "Only this actor id");
  c->add_option("--action", m.audit_action, "Only this action, e.g. secret.read");
  c->add_option("--since", m.since, "RFC 3339 time");
  c->add_option("--until", m.until, "RFC 3339 time");
  c->add_option("--after", m.after, "Events after this sequence number");
  c->add_option("--limit", m.limit, "Events per page (server default 100)");
  c->add_flag("--all", m.all_pages, "Follow every page");
  leaf(audit, "verify", "Check the hash chain (admin); exit 1 if it is broken",
       "coffer audit verify", &Impl::AuditVerify);

  // run
  c = leaf(&app, "run",
           "Run a command with secrets in its environment: every variable whose value is "
           "coffer://VAULT/PATH[#VERSION] is replaced by that secret, and each --bundle "
           "env_bundle secret adds its KEY=VALUE lines (overriding inherited variables). "
           "The command runs in a process group of its own: signals are passed on to the whole "
           "group, and when the command ends or is restarted, whatever it left running in the "
           "group is stopped too (SIGTERM, then SIGKILL after --grace). In the foreground of a "
           "terminal the group gets the terminal (^C and ^Z reach it directly). coffer exits "
           "with the command's exit code. A value holding a NUL byte is refused (an environment "
           "variable cannot carry one)",
           "OPENAI_API_KEY=coffer://prod/api-keys/openai coffer run --watch -- ./agent.py", nullptr,
           false);
  c->callback([&m] { m.action = [&m] { return RunRun(m.conn, m.run); }; });
  c->add_option("--bundle,-b", m.run.bundles,
                "VAULT/PATH of an env_bundle secret to expand (repeatable)")
      ->allow_extra_args(false);
  c->add_flag("--watch,-w", m.run.watch,
              "Poll the secrets and restart the command when one gets a new version");
  c->add_option("--interval", m.run.interval_seconds, "Seconds between --watch polls")
      ->capture_default_str()
      ->check(SecondsOption(kRunInterval));
  c->add_option("--signal", m.run.signal_name,
                "With --watch: send this signal (e.g. HUP) instead of restarting");
  c->add_option("--grace", m.run.grace_seconds,
                "Seconds between SIGTERM and SIGKILL when stopping the command's process group "
                "(on restart, and for what the command leaves behind when it ends)")
      ->check(SecondsOption(kRunGrace))
      ->capture_default_str();
  c->add_option("--allow-env", m.run.allow_env,
                "Let a secret set this variable although it changes how the command starts "
                "(exact name, repeatable; the refused names are listed below)")
      ->allow_extra_args(false);
  c->add_flag("--pass-token", m.run.pass_token,
              "Give the command coffer's own COFFER_TOKEN (with COFFER_ADDR and COFFER_CA_CERT); "
              "without it COFFER_TOKEN is removed from the command's environment");
  c->add_option("command", m.run.command, "The command and its arguments, after --")->required();
  c->positionals_at_end();  // everything from the command on is the command's
  c->footer(
      "Examples:\n"
      "  OPENAI_API_KEY=coffer://prod/api-keys/openai coffer run -- ./agent.py\n"
      "  coffer run --bundle prod/env/agent --watch --interval 10 -- ./agent.py\n"
      "  DB_PASSWORD=coffer://prod/db/password#3 coffer run -- psql\n"
      "  coffer run --bundle prod/env/build --allow-env JAVA_TOOL_OPTIONS -- ./gradlew build\n\n"
      "A secret (a reference or a bundle line) may not set a variable that changes how the\n"
      "command starts or which code it loads, unless --allow-env names it; nothing runs if one\n"
      "does. COFFER_TOKEN is removed from the command's environment unless --pass-token.\n"
      "Refused names (NAME* is a prefix; why each is there: docs/security.md):\n" +
      WrapWords(client::StartupVariablePatterns(), "  ", 78) + "\n\n" +
      std::string(ExitCodesHelp()));

  // mcp
  c = leaf(&app, "mcp",
           "Serve the Model Context Protocol on stdin/stdout (JSON-RPC 2.0, one message per "
           "line) with tools to list vaults and secrets, read, put and rotate secrets, list and "
           "disable versions, under this token",
           "COFFER_TOKEN=$AGENT_KEY coffer mcp   (as an MCP server command in an agent's config)",
           nullptr, false);
  c->callback([&m] { m.action = [&m] { return RunMcp(m.conn); }; });
}

ClientCli::~ClientCli() = default;

bool ClientCli::selected() const { return static_cast<bool>(impl_->action); }

int ClientCli::Run() { return impl_->action(); }

}  // namespace coffer::cli
