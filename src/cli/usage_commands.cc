// `coffer secrets unused --since 30d [--vault V]`: the secrets nobody has read since a time
// (never-read ones included, with their creation time), from the listing's unused_since filter.
// Reads are known to the server as of its last usage flush (docs/usage.md).
#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/time_format.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

// An RFC 3339 time taken as it is, or a duration (ParseDurationSeconds) back from `now`.
StatusOr<UnixMicros> SinceTime(std::string_view text, UnixMicros now) {
  if (auto t = ParseRfc3339(text); t.has_value()) return *t;
  ASSIGN_OR_RETURN(const int64_t seconds, ParseDurationSeconds(text, "--since"));
  return now - seconds * kMicrosPerSecond;
}

struct UnusedCommand {
  explicit UnusedCommand(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string since = "30d";
  std::string vault;

  int Run() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(const UnixMicros at, SinceTime(since, SystemClock().Now()));
      const std::string at_text = FormatRfc3339(at);
      std::vector<std::pair<std::string, std::string>> vaults;  // id, name
      if (!vault.empty()) {
        ASSIGN_OR_RETURN(std::string id, c.ResolveVault(vault));
        vaults.emplace_back(id, vault);
      } else {
        ASSIGN_OR_RETURN(auto all, c.ListVaults());
        for (const auto& v : all) vaults.emplace_back(v.id, v.name);
      }
      json::array items;
      std::vector<std::vector<std::string>> rows;
      for (const auto& [id, name] : vaults) {
        ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(id, "", at_text));
        for (const auto& s : secrets) {
          const json::object* usage = s.json.if_contains("secret_usage") != nullptr
                                          ? s.json.at("secret_usage").if_object()
                                          : nullptr;
          std::string last_read = "never";
          if (usage != nullptr && usage->contains("last_read_at") &&
              usage->at("last_read_at").is_string()) {
            last_read = std::string(usage->at("last_read_at").as_string());
          }
          json::object o = s.json;
          o["vault"] = name;
          items.push_back(std::move(o));
          rows.push_back({name, s.path, s.type,
                          s.json.contains("created_at")
                              ? std::string(s.json.at("created_at").as_string())
                              : "-",
                          last_read});
        }
      }
      if (ctx.json_output) {
        PrintJson(json::object{{"unused_since", at_text}, {"secrets", std::move(items)}});
        return OkStatus();
      }
      if (rows.empty()) {
        fmt::print("Every secret has been read since {}\n", at_text);
        return OkStatus();
      }
      fmt::print("{}", RenderTable({"VAULT", "PATH", "TYPE", "UPDATED", "LAST READ"}, rows));
      return OkStatus();
    });
  }
};

}  // namespace

StatusOr<int64_t> ParseDurationSeconds(std::string_view text, std::string_view flag) {
  const Status bad = InvalidArgumentError(
      fmt::format("{} must be a duration such as 90s, 30m, 12h, 30d or 2w", flag));
  if (text.size() < 2) return Err(bad);
  int64_t n = 0;
  const std::string_view digits = text.substr(0, text.size() - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 0 || n > 1'000'000) {
    return Err(bad);
  }
  switch (text.back()) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
    case 'w':
      return n * 7 * 86400;
    default:
      return Err(bad);
  }
}

void AddUnusedCommand(CLI::App* secrets, ClientContext& ctx) {
  auto m = std::make_shared<UnusedCommand>(ctx);
  CLI::App* c = ctx.Leaf(
      secrets, "unused",
      "List the secrets not read since a time (never-read ones included), in one vault or every "
      "vault you can list. Reads reach the server's counts within its usage flush interval",
      "coffer secrets unused --since 30d --vault prod", [m] { return m->Run(); });
  c->add_option("--since", m->since,
                "A duration back from now (30d, 12h, 90m, 2w) or an RFC "
                "3339 time")
      ->capture_default_str();
  c->add_option("--vault", m->vault, "Only this vault (name or id)");
}

}  // namespace coffer::cli
