// `coffer login`, `logout` and `whoami`: the saved connection and who the token belongs to.
#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <cstdlib>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/exit_codes.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

struct LoginCommands {
  explicit LoginCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;

  int Login() {
    auto path = client::UserConfigPath();
    if (!path.has_value()) return client::ReportError(path.error());
    auto existing = client::LoadUserConfig(*path);
    if (!existing.has_value()) return client::ReportError(existing.error());
    client::ConnectionFlags flags = ctx.conn;
    SecretBuffer token;
    if (!flags.token.empty()) {
      token = SecretBuffer(flags.token);
    } else if (const char* t = std::getenv("COFFER_TOKEN"); t != nullptr && *t != '\0') {
      token = SecretBuffer(std::string_view(t));
    } else {
      auto read = ReadSecretInput("", "API key: ");
      if (!read.has_value()) return client::ReportError(read.error());
      token = std::move(*read);
    }
    auto resolved = client::ResolveConnection(flags);
    if (!resolved.has_value()) return client::ReportError(resolved.error());
    auto c = CofferClient::Create(client::ClientOptions{.addr = resolved->addr,
                                                        .token = token.Clone(),
                                                        .ca_cert = resolved->ca_cert,
                                                        .timeout_ms = resolved->timeout_ms});
    if (!c.has_value()) return client::ReportError(c.error());
    auto me = (*c)->GetMe();
    if (!me.has_value()) return client::ReportError(me.error());
    client::UserConfig config{
        .addr = resolved->addr, .token = std::move(token), .ca_cert = resolved->ca_cert};
    if (Status s = client::SaveUserConfig(*path, config); !s.ok()) {
      return client::ReportError(s);
    }
    if (ctx.json_output) {
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
    auto path = client::UserConfigPath();
    if (!path.has_value()) return client::ReportError(path.error());
    auto config = client::LoadUserConfig(*path);
    if (!config.has_value()) return client::ReportError(config.error());
    config->token = SecretBuffer();
    if (Status s = client::SaveUserConfig(*path, *config); !s.ok()) {
      return client::ReportError(s);
    }
    fmt::print("Removed the token from {}.\n", *path);
    return kExitOk;
  }

  int Whoami() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(client::Me me, c.GetMe());
      if (ctx.json_output) {
        PrintJson(me.json);
      } else {
        fmt::print("{}",
                   RenderTable({"TYPE", "NAME", "ID", "ADMIN", "SERVER"},
                               {{me.type, me.name, me.id, me.is_admin ? "yes" : "no", c.addr()}}));
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddLoginCommands(CLI::App* app, ClientContext& ctx) {
  auto m = std::make_shared<LoginCommands>(ctx);
  ctx.Leaf(app, "login",
           "Check an API key against the server and save it (and --addr) in "
           "~/.config/coffer/config.toml, mode 0600. The key is read hidden from "
           "the terminal, or from stdin, or COFFER_TOKEN",
           "coffer login --addr https://coffer.internal:8200 < admin-key.txt",
           [m] { return m->Login(); });
  ctx.Leaf(
      app, "logout", "Remove the saved token from the config file", "coffer logout",
      [m] { return m->Logout(); }, false);
  ctx.Leaf(app, "whoami", "Show who the token belongs to", "coffer whoami --json",
           [m] { return m->Whoami(); });
}

}  // namespace coffer::cli
