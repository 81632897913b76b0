// `coffer policies add|list|remove`: who may do what on which paths of a vault.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/exit_codes.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

struct PolicyCommands {
  explicit PolicyCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string vault, id, agent, user, pattern, expires_at;
  std::vector<std::string> permissions;

  int Add() {
    if (agent.empty() == user.empty()) {
      return client::ReportError(
          InvalidArgumentError("name exactly one principal: --agent AGENT or --user USER_ID"));
    }
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
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
      if (ctx.json_output) {
        PrintJson(p.json);
      } else {
        fmt::print("Added policy {}: {} {} may {} on {}\n", p.id, p.principal_type, p.principal_id,
                   fmt::join(p.permissions, ","), p.secret_path_pattern);
      }
      return OkStatus();
    });
  }

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(auto policies, c.ListPolicies(vault_id));
      if (ctx.json_output) {
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

  int Remove() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      RETURN_IF_ERROR(c.DeletePolicy(vault_id, id));
      if (ctx.json_output) {
        PrintJson(json::object{{"deleted", true}, {"id", id}});
      } else {
        fmt::print("Removed policy {}\n", id);
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddPolicyCommands(CLI::App* policies, ClientContext& ctx) {
  auto m = std::make_shared<PolicyCommands>(ctx);
  CLI::App* c = ctx.Leaf(
      policies, "add", "Grant a principal permissions on paths of a vault",
      "coffer policies add prod --agent research-bot --path 'api-keys/**' --allow read,list",
      [m] { return m->Add(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c->add_option("--agent,-a", m->agent, "Agent name or id");
  c->add_option("--user,-u", m->user, "User id");
  c->add_option("--path,-p", m->pattern,
                "Path pattern: * within a segment, ** any depth (e.g. api-keys/*)")
      ->required();
  c->add_option("--allow,--permissions", m->permissions,
                "read, write, rotate, delete, list, use (comma-separated or repeated; use: only "
                "through the agent's bindings, never the value)")
      ->required();
  c->add_option("--expires-at", m->expires_at, "RFC 3339 time after which it grants nothing");
  c = ctx.Leaf(policies, "list", "List a vault's policies", "coffer policies list prod",
               [m] { return m->List(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c = ctx.Leaf(policies, "remove", "Remove a policy", "coffer policies remove prod POLICY_ID",
               [m] { return m->Remove(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c->add_option("policy", m->id, "Policy id")->required();
}

}  // namespace coffer::cli
