// `coffer webhooks add|list|rm|deliveries|test --vault V`: a vault's change events sent, signed,
// to URLs (docs/webhooks.md). The signing secret is printed once, by `add`.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/exit_codes.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

std::string Events(const json::object& o) {
  const json::value* v = o.if_contains("events");
  if (v == nullptr || !v->is_array()) return "-";
  std::vector<std::string> names;
  for (const json::value& e : v->get_array()) {
    if (e.is_string()) names.emplace_back(e.get_string());
  }
  return fmt::format("{}", fmt::join(names, ","));
}

const json::array& Items(const client::WipedJson& doc, std::string_view key) {
  static const json::array kEmpty;
  if (!doc.value().is_object()) return kEmpty;
  const json::value* v = doc.value().get_object().if_contains(key);
  return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
}

struct WebhookCommands {
  explicit WebhookCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string vault, id, url, description;
  std::vector<std::string> events;
  int64_t limit = 20;

  int Add() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      std::vector<std::string> names;
      for (const std::string& e : events) {
        size_t start = 0;
        while (start <= e.size()) {
          const size_t comma = e.find(',', start);
          std::string one =
              e.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!one.empty()) names.push_back(one);
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      ASSIGN_OR_RETURN(client::WipedJson doc, c.CreateWebhook(vault_id, url, names, description));
      if (ctx.json_output || !doc.value().is_object()) {
        PrintJson(doc.value());
        return OkStatus();
      }
      const json::object& o = doc.value().get_object();
      fmt::print("Added webhook {} for {} on {}\n", Text(o, "id"), Events(o), Text(o, "url"));
      fmt::print("Signing secret (shown once; keep it where the receiver can read it):\n{}\n",
                 Text(o, "secret"));
      return OkStatus();
    });
  }

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::WipedJson doc, c.ListWebhooks(vault_id));
      if (ctx.json_output) {
        PrintJson(doc.value());
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json::value& v : Items(doc, "webhooks")) {
        if (!v.is_object()) continue;
        const json::object& o = v.get_object();
        rows.push_back({Text(o, "id"), Text(o, "url"), Events(o), Text(o, "created_at")});
      }
      fmt::print("{}", RenderTable({"ID", "URL", "EVENTS", "CREATED"}, rows));
      return OkStatus();
    });
  }

  int Remove() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      RETURN_IF_ERROR(c.DeleteWebhook(vault_id, id));
      if (ctx.json_output) {
        PrintJson(json::object{{"deleted", true}, {"id", id}});
      } else {
        fmt::print("Removed webhook {} and its delivery log\n", id);
      }
      return OkStatus();
    });
  }

  int Deliveries() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::WipedJson doc, c.ListWebhookDeliveries(vault_id, id, limit));
      if (ctx.json_output) {
        PrintJson(doc.value());
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json::value& v : Items(doc, "deliveries")) {
        if (!v.is_object()) continue;
        const json::object& o = v.get_object();
        rows.push_back({Text(o, "id"), Text(o, "event_type"), Text(o, "state"), Text(o, "attempts"),
                        Text(o, "last_status_code"), Text(o, "last_error"),
                        Text(o, "last_attempt_at"), Text(o, "next_attempt_at")});
      }
      fmt::print(
          "{}", RenderTable({"ID", "EVENT", "STATE", "ATTEMPTS", "STATUS", "ERROR", "LAST", "NEXT"},
                            rows));
      return OkStatus();
    });
  }

  int Test() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::WipedJson doc, c.TestWebhook(vault_id, id));
      if (ctx.json_output || !doc.value().is_object()) {
        PrintJson(doc.value());
      } else {
        fmt::print(
            "Queued webhook.test delivery {}; see `coffer webhooks deliveries {} --vault "
            "{}`\n",
            Text(doc.value().get_object(), "id"), id, vault);
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddWebhookCommands(CLI::App* webhooks, ClientContext& ctx) {
  auto m = std::make_shared<WebhookCommands>(ctx);
  CLI::App* c = ctx.Leaf(webhooks, "add",
                         "Send a vault's change events to a URL (prints the signing secret once)",
                         "coffer webhooks add --vault prod https://hooks.example.com/coffer "
                         "--events secret.version_created,secret.rotated",
                         [m] { return m->Add(); });
  c->add_option("--vault,-v", m->vault, "Vault name or id")->required();
  c->add_option("url", m->url, "https:// URL the events are POSTed to")->required();
  c->add_option("--events,-e", m->events,
                "secret.version_created, secret.rotated, secret.rotation_due, secret.expiring, "
                "secret.expired, secret.version_disabled, agent.key_rotated (comma-separated or "
                "repeated)")
      ->required();
  c->add_option("--description,-d", m->description, "What the endpoint is for");
  c = ctx.Leaf(webhooks, "list", "List a vault's webhook endpoints",
               "coffer webhooks list --vault prod", [m] { return m->List(); });
  c->add_option("--vault,-v", m->vault, "Vault name or id")->required();
  c = ctx.Leaf(webhooks, "rm", "Delete a webhook endpoint and its delivery log",
               "coffer webhooks rm --vault prod WEBHOOK_ID", [m] { return m->Remove(); });
  c->add_option("--vault,-v", m->vault, "Vault name or id")->required();
  c->add_option("webhook", m->id, "Webhook id")->required();
  c = ctx.Leaf(webhooks, "deliveries", "Show an endpoint's delivery log, newest first",
               "coffer webhooks deliveries --vault prod WEBHOOK_ID --limit 50",
               [m] { return m->Deliveries(); });
  c->add_option("--vault,-v", m->vault, "Vault name or id")->required();
  c->add_option("webhook", m->id, "Webhook id")->required();
  c->add_option("--limit,-n", m->limit, "At most this many (1-500)")->capture_default_str();
  c = ctx.Leaf(webhooks, "test", "Send a webhook.test event to the endpoint",
               "coffer webhooks test --vault prod WEBHOOK_ID", [m] { return m->Test(); });
  c->add_option("--vault,-v", m->vault, "Vault name or id")->required();
  c->add_option("webhook", m->id, "Webhook id")->required();
}

}  // namespace coffer::cli
