// `coffer vaults create|list|get|delete`.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

constexpr std::initializer_list<const char*> kVaultHeaders = {"NAME", "ID", "DESCRIPTION",
                                                              "CREATED"};

std::vector<std::string> VaultRow(const client::Vault& v) {
  return {v.name, v.id, v.description, v.created_at};
}

struct VaultCommands {
  explicit VaultCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string name, description, vault;
  int64_t max_versions = 0;

  int Create() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(client::Vault v, c.CreateVault(name, description, max_versions));
      if (ctx.json_output) {
        PrintJson(v.json);
      } else {
        fmt::print("Created vault {} ({})\n", v.name, v.id);
      }
      return OkStatus();
    });
  }

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(auto vaults, c.ListVaults());
      if (ctx.json_output) {
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

  int Get() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::Vault v, c.GetVault(vault_id));
      if (ctx.json_output) {
        PrintJson(v.json);
      } else {
        fmt::print("{}", RenderTable(Headers(kVaultHeaders), {VaultRow(v)}));
      }
      return OkStatus();
    });
  }

  int Retention() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::Vault v, c.SetVaultMaxVersions(vault_id, max_versions));
      if (ctx.json_output) {
        PrintJson(v.json);
      } else if (max_versions == 0) {
        fmt::print("Secrets of vault {} keep every version\n", v.name);
      } else {
        fmt::print(
            "Secrets of vault {} keep at most {} versions (older ones are destroyed at "
            "their next write)\n",
            v.name, max_versions);
      }
      return OkStatus();
    });
  }

  int Delete() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      RETURN_IF_ERROR(c.DeleteVault(vault_id));
      if (ctx.json_output) {
        PrintJson(json::object{{"deleted", true}, {"id", vault_id}});
      } else {
        fmt::print("Deleted vault {} and every secret in it\n", vault);
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddVaultCommands(CLI::App* vaults, ClientContext& ctx) {
  auto m = std::make_shared<VaultCommands>(ctx);
  CLI::App* c = ctx.Leaf(vaults, "create", "Create a vault", "coffer vaults create prod",
                         [m] { return m->Create(); });
  c->add_option("name", m->name, "Vault name")->required();
  c->add_option("--description,-d", m->description, "What the vault holds");
  c->add_option("--max-versions", m->max_versions,
                "Versions each secret keeps at most; older ones are destroyed (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  ctx.Leaf(vaults, "list", "List the vaults you can see", "coffer vaults list --json",
           [m] { return m->List(); });
  c = ctx.Leaf(vaults, "get", "Show one vault", "coffer vaults get prod", [m] { return m->Get(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c = ctx.Leaf(vaults, "retention",
               "Set how many versions each secret of the vault keeps (0: all); older ones are "
               "destroyed at the secret's next write",
               "coffer vaults retention prod 1", [m] { return m->Retention(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c->add_option("max_versions", m->max_versions, "Versions kept per secret (0: no limit)")
      ->required()
      ->check(CLI::NonNegativeNumber);
  c = ctx.Leaf(vaults, "delete", "Delete a vault and every secret in it",
               "coffer vaults delete staging", [m] { return m->Delete(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
}

}  // namespace coffer::cli
