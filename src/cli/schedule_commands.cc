// `coffer secrets schedule|unschedule`: sets or removes a secret's rotation schedule
// (docs/rotation.md) from flags, building the rotation_policy the server validates.
#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <memory>

#include "cli/client_command.h"
#include "client/exit_codes.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

struct ScheduleCommands {
  explicit ScheduleCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string vault, path, every, cron, charset, disable_after;
  int64_t length = 0;
  bool notify = false;

  // The policy the flags describe; the server names any field at fault.
  std::string PolicyJson() const {
    json::object policy;
    if (!every.empty()) policy["interval"] = every;
    if (!cron.empty()) policy["cron"] = cron;
    if (notify) policy["action"] = "notify";
    json::object generate;
    if (length > 0) generate["length"] = length;
    if (!charset.empty()) generate["charset"] = charset;
    if (!generate.empty()) policy["generate"] = std::move(generate);
    if (!disable_after.empty()) {
      policy["previous"] = json::object{{"action", "disable"}, {"grace_seconds", disable_after}};
    }
    return json::serialize(policy);
  }

  int Schedule() {
    if (every.empty() == cron.empty()) {
      return client::ReportError(
          InvalidArgumentError("give exactly one of --every DURATION and --cron EXPRESSION"));
    }
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(json::object s, c.ScheduleSecret(vault_id, path, PolicyJson()));
      if (ctx.json_output) {
        PrintJson(s);
      } else {
        const json::value* next = s.if_contains("next_rotation_at");
        fmt::print("Scheduled {}: {} next at {}\n", path, notify ? "notify" : "rotation",
                   next != nullptr && next->is_string() ? std::string(next->as_string()) : "?");
      }
      return OkStatus();
    });
  }

  int Unschedule() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      RETURN_IF_ERROR(c.UnscheduleSecret(vault_id, path));
      if (!ctx.json_output) fmt::print("Unscheduled {}\n", path);
      return OkStatus();
    });
  }
};

}  // namespace

void AddScheduleCommands(CLI::App* secrets, ClientContext& ctx) {
  auto m = std::make_shared<ScheduleCommands>(ctx);
  CLI::App* c = ctx.Leaf(
      secrets, "schedule",
      "Have the server rotate a secret on a schedule (or, with --notify, record "
      "secret.rotation_due). Durations: 45s, 90m, 12h, 30d, 2w",
      "coffer secrets schedule prod db/password --every 30d --length 40 --charset alphanumeric "
      "--disable-previous-after 1h",
      [m] { return m->Schedule(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c->add_option("path", m->path, "Secret path, e.g. db/password")->required();
  c->add_option("--every", m->every, "Interval between rotations, e.g. 30d");
  c->add_option("--cron", m->cron, "5-field cron expression in UTC, e.g. \"0 3 * * 1\"");
  c->add_option("--length,-l", m->length, "Length of generated values, 8-1024 (default 32)");
  c->add_option("--charset,-c", m->charset, "hex, base64, alphanumeric or ascii (default hex)");
  c->add_flag("--notify", m->notify, "Record secret.rotation_due instead of rotating");
  c->add_option("--disable-previous-after", m->disable_after,
                "Disable the previous version this long after each rotation, e.g. 1h");
  c = ctx.Leaf(secrets, "unschedule", "Stop the server rotating a secret",
               "coffer secrets unschedule prod db/password", [m] { return m->Unschedule(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c->add_option("path", m->path, "Secret path, e.g. db/password")->required();
}

}  // namespace coffer::cli
