// `coffer audit list|verify`: the hash-chained audit trail, page by page, and its check.
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdio>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/exit_codes.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

struct AuditCommands {
  explicit AuditCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string vault, actor, action, since, until;
  int64_t limit = 0, after = 0;
  bool all_pages = false;

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      client::AuditQuery q;
      if (!vault.empty()) {
        ASSIGN_OR_RETURN(q.vault_id, c.ResolveVault(vault));
      }
      q.actor_id = actor;
      q.action = action;
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
      if (ctx.json_output) {
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

  int Verify() {
    auto c = client::Connect(ctx.conn);
    if (!c.has_value()) return client::ReportError(c.error());
    auto v = (*c)->VerifyAudit();
    if (!v.has_value()) return client::ReportError(v.error());
    if (ctx.json_output) {
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

}  // namespace

void AddAuditCommands(CLI::App* audit, ClientContext& ctx) {
  auto m = std::make_shared<AuditCommands>(ctx);
  CLI::App* c = ctx.Leaf(audit, "list", "List audit events, oldest first",
                         "coffer audit list --vault prod --since 2026-01-01T00:00:00Z",
                         [m] { return m->List(); });
  c->add_option("--vault", m->vault, "Only this vault (name or id; required unless admin)");
  c->add_option("--actor", m->actor, "Only this actor id");
  c->add_option("--action", m->action, "Only this action, e.g. secret.read");
  c->add_option("--since", m->since, "RFC 3339 time");
  c->add_option("--until", m->until, "RFC 3339 time");
  c->add_option("--after", m->after, "Events after this sequence number");
  c->add_option("--limit", m->limit, "Events per page (server default 100)");
  c->add_flag("--all", m->all_pages, "Follow every page");
  ctx.Leaf(audit, "verify", "Check the hash chain (admin); exit 1 if it is broken",
           "coffer audit verify", [m] { return m->Verify(); });
}

}  // namespace coffer::cli
