// `coffer secrets alias|unalias|promote|rollback|destroy`: the version lifecycle
// (docs/secret-versions.md).
#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <string>

#include "cli/client_command.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

// "current=3 pending=4", or "(none)".
std::string AliasText(const json::object& answer) {
  std::string out;
  const json::value* aliases = answer.if_contains("aliases");
  if (aliases != nullptr && aliases->is_object()) {
    for (const auto& [name, version] : aliases->as_object()) {
      if (!out.empty()) out += " ";
      out += fmt::format("{}={}", std::string_view(name), json::serialize(version));
    }
  }
  return out.empty() ? "(none)" : out;
}

struct LifecycleCommands {
  explicit LifecycleCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string vault, path, alias, version_text;

  // Runs `call` (returning the {path, aliases} answer) and prints it.
  template <typename Call>
  int Aliases(std::string_view verb, Call call) {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(json::object answer, call(c, vault_id));
      if (ctx.json_output) {
        PrintJson(answer);
      } else {
        fmt::print("{} {}: {}\n", verb, path, AliasText(answer));
      }
      return OkStatus();
    });
  }

  int SetAlias() {
    return Aliases("Aliases of",
                   [&](CofferClient& c, const std::string& id) -> StatusOr<json::object> {
                     ASSIGN_OR_RETURN(int64_t v, ParseVersion(version_text));
                     return c.SetAlias(id, path, alias, v);
                   });
  }
  int DeleteAlias() {
    return Aliases("Aliases of", [&](CofferClient& c, const std::string& id) {
      return c.DeleteAlias(id, path, alias);
    });
  }
  int Promote() {
    return Aliases("Promoted",
                   [&](CofferClient& c, const std::string& id) { return c.Promote(id, path); });
  }
  int Rollback() {
    return Aliases("Rolled back",
                   [&](CofferClient& c, const std::string& id) { return c.Rollback(id, path); });
  }

  int Destroy() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(int64_t v, ParseVersion(version_text));
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::SecretMeta m, c.DestroyVersion(vault_id, path, v));
      if (ctx.json_output) {
        PrintJson(m.json);
      } else {
        fmt::print("Destroyed version {} of {}: its value is erased for good\n", m.version, m.path);
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddLifecycleCommands(CLI::App* secrets, ClientContext& ctx) {
  auto m = std::make_shared<LifecycleCommands>(ctx);
  auto vault_path = [&m](CLI::App* cmd) {
    cmd->add_option("vault", m->vault, "Vault name or id")->required();
    cmd->add_option("path", m->path, "Secret path, e.g. db/password")->required();
  };
  CLI::App* c =
      ctx.Leaf(secrets, "alias",
               "Point an alias (current, pending, previous or a name of your own) at "
               "a version; plain reads return the version `current` names",
               "coffer secrets alias prod db/password blue 3", [m] { return m->SetAlias(); });
  vault_path(c);
  c->add_option("alias", m->alias, "Alias: 1-32 of a-z 0-9 _ -, starting with a letter")
      ->required();
  c->add_option("version", m->version_text, "Version number")->required();
  c = ctx.Leaf(secrets, "unalias", "Remove an alias",
               "coffer secrets unalias prod db/password blue", [m] { return m->DeleteAlias(); });
  vault_path(c);
  c->add_option("alias", m->alias, "Alias to remove")->required();
  c = ctx.Leaf(secrets, "promote",
               "Make the pending version current (the old current becomes previous)",
               "coffer secrets promote prod db/password", [m] { return m->Promote(); });
  vault_path(c);
  c = ctx.Leaf(secrets, "rollback",
               "Make the previous version current again (the one rolled back from becomes "
               "pending)",
               "coffer secrets rollback prod db/password", [m] { return m->Rollback(); });
  vault_path(c);
  c = ctx.Leaf(secrets, "destroy",
               "Erase one version's value for good (the row and its audit history stay; reads "
               "get 410)",
               "coffer secrets destroy prod db/password 2", [m] { return m->Destroy(); });
  vault_path(c);
  c->add_option("version", m->version_text, "Version number")->required();
}

}  // namespace coffer::cli
