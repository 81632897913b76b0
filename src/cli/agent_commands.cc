// `coffer agents create|list|get|revoke|rotate-key`. An agent's API key and rotation secret are
// printed once, when they are made.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdio>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/wiping_json.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

constexpr std::initializer_list<const char*> kAgentHeaders = {"NAME", "ID", "STATE", "DESCRIPTION",
                                                              "CREATED"};

std::vector<std::string> AgentRow(const client::Agent& a) {
  return {a.name, a.id, a.is_revoked ? "revoked" : "active", a.description, a.created_at};
}

struct AgentCommands {
  explicit AgentCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string name, description, agent, grace;

  void PrintCredentials(const client::AgentCredentials& a, std::string_view verb) {
    if (ctx.json_output) {
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

  int Create() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(client::AgentCredentials a, c.CreateAgent(name, description));
      PrintCredentials(a, "Created");
      return OkStatus();
    });
  }

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(auto agents, c.ListAgents());
      if (ctx.json_output) {
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

  int Get() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, AgentId(c, agent));
      ASSIGN_OR_RETURN(client::Agent a, c.GetAgent(agent_id));
      if (ctx.json_output) {
        PrintJson(a.json);
      } else {
        fmt::print("{}", RenderTable(Headers(kAgentHeaders), {AgentRow(a)}));
      }
      return OkStatus();
    });
  }

  int Revoke() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, AgentId(c, agent));
      RETURN_IF_ERROR(c.RevokeAgent(agent_id));
      if (ctx.json_output) {
        PrintJson(json::object{{"revoked", true}, {"id", agent_id}});
      } else {
        fmt::print("Revoked agent {}: its API key and rotation secret no longer work\n", agent);
      }
      return OkStatus();
    });
  }

  int RotateKey() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, AgentId(c, agent));
      int64_t grace_seconds = 0;
      if (!grace.empty()) {
        ASSIGN_OR_RETURN(grace_seconds, ParseDurationSeconds(grace, "--grace"));
      }
      ASSIGN_OR_RETURN(client::AgentCredentials a, c.RotateAgentKey(agent_id, grace_seconds));
      PrintCredentials(a, "Rotated the key of");
      if (grace_seconds > 0 && !ctx.json_output) {
        fmt::print("The old API key keeps working for {} seconds more\n", grace_seconds);
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddAgentCommands(CLI::App* agents, ClientContext& ctx) {
  auto m = std::make_shared<AgentCommands>(ctx);
  CLI::App* c =
      ctx.Leaf(agents, "create", "Create an agent; prints its API key and rotation secret once",
               "coffer agents create research-bot --description 'nightly digest'",
               [m] { return m->Create(); });
  c->add_option("name", m->name, "Agent name")->required();
  c->add_option("--description,-d", m->description, "What the agent does");
  ctx.Leaf(agents, "list", "List your agents (the admin: all)", "coffer agents list",
           [m] { return m->List(); });
  c = ctx.Leaf(agents, "get", "Show one agent", "coffer agents get research-bot",
               [m] { return m->Get(); });
  c->add_option("agent", m->agent, "Agent name or id")->required();
  c = ctx.Leaf(agents, "revoke", "Revoke an agent: its key stops working at once",
               "coffer agents revoke research-bot", [m] { return m->Revoke(); });
  c->add_option("agent", m->agent, "Agent name or id")->required();
  c = ctx.Leaf(agents, "rotate-key",
               "Give an agent a new API key and rotation secret (printed once); the old ones stop "
               "working at once, or with --grace the old API key works that much longer",
               "coffer agents rotate-key research-bot --grace 1h", [m] { return m->RotateKey(); });
  c->add_option("agent", m->agent, "Agent name or id")->required();
  c->add_option("--grace", m->grace,
                "How long the old API key keeps working: 90s, 30m, 1h, 7d (at most 7 days)");
}

}  // namespace coffer::cli
