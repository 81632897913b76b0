// `coffer secrets put|get|list|delete|versions|rotate|disable` (and schedule|unschedule). Values go
// to stdout byte for byte and come from stdin, a file or a hidden prompt, never from the command
// line.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <memory>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/exit_codes.h"
#include "client/wiping_json.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
namespace json = boost::json;

constexpr std::string_view kSecretTypes =
    "password, api_key, private_key, certificate, file, note, ssh_key, env_bundle, generic, env";

struct SecretCommands {
  explicit SecretCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string vault, path, version_text, prefix;
  std::string argv_value;  // only to refuse it
  std::string type = "password", value_file, metadata, expires_at, rotation_policy;
  int64_t max_access_count = -1;
  int64_t if_match = 0;
  bool only_create = false;
  std::string stage, alias;
  int64_t max_versions = -1;
  int64_t length = 0;
  std::string charset, rotate_type;
  int64_t wait_seconds = 0, after_version = 0;  // get --wait (a long poll, docs/watch.md)

  void PrintMeta(const client::SecretMeta& m, std::string_view verb) {
    if (ctx.json_output) {
      PrintJson(m.json);
    } else {
      fmt::print("{} {}: version {} ({})\n", verb, m.path, m.version, m.type);
    }
  }

  int Put() {
    if (!argv_value.empty()) {
      SecureWipe(argv_value);
      return client::ReportError(InvalidArgumentError(
          "--value is refused: a value on the command line lands in shell history and `ps`; "
          "pipe it on stdin or use --value-file FILE"));
    }
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      client::PutSecretInput input;
      input.type = type;
      ASSIGN_OR_RETURN(input.value,
                       ReadSecretInput(value_file, fmt::format("Value for {} (hidden): ", path)));
      if (!metadata.empty()) input.metadata_json = metadata;
      if (!rotation_policy.empty()) input.rotation_policy_json = rotation_policy;
      if (!expires_at.empty()) input.expires_at = expires_at;
      if (max_access_count >= 0) input.max_access_count = max_access_count;
      if (if_match > 0) input.cas = if_match;
      if (only_create) input.cas = 0;
      if (!stage.empty()) input.stage = stage;
      if (max_versions >= 0) input.max_versions = max_versions;
      ASSIGN_OR_RETURN(client::SecretMeta m, c.PutSecret(vault_id, path, std::move(input)));
      PrintMeta(m, "Stored");
      return OkStatus();
    });
  }

  int Get() {
    if (wait_seconds > 0) {
      if (!version_text.empty() || !alias.empty()) {
        return client::ReportError(
            InvalidArgumentError("--wait waits for what a plain read returns: "
                                 "it does not go with --version or --alias"));
      }
      // The request is held for up to --wait seconds: the client must wait longer.
      ctx.conn.timeout_seconds =
          std::max(ctx.conn.timeout_seconds, static_cast<double>(wait_seconds + 15));
    }
    bool nothing_newer = false;
    const int rc = ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      StatusOr<client::SecretValue> got;
      if (wait_seconds > 0) {
        ASSIGN_OR_RETURN(auto newer, c.WaitForSecret(vault_id, path, after_version,
                                                     static_cast<int>(wait_seconds)));
        if (!newer.has_value()) {
          nothing_newer = true;
          return OkStatus();
        }
        got = std::move(*newer);
      } else if (!version_text.empty()) {
        ASSIGN_OR_RETURN(int64_t v, ParseVersion(version_text));
        got = c.GetSecretVersion(vault_id, path, v);
      } else if (!alias.empty()) {
        got = c.GetSecretAlias(vault_id, path, alias);
      } else {
        got = c.GetSecret(vault_id, path);
      }
      if (!got.has_value()) return got.error();
      if (ctx.json_output) {
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
    if (rc == kExitOk && nothing_newer) {
      // Nothing on stdout: a script's $(…) gets nothing and the status says why.
      fmt::print(stderr, "coffer: no version of {} newer than {} became readable within {} s\n",
                 path, after_version, wait_seconds);
      return kExitError;
    }
    return rc;
  }

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(auto secrets, c.ListAllSecrets(vault_id, prefix));
      if (ctx.json_output) {
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

  int Delete() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      RETURN_IF_ERROR(c.DeleteSecret(vault_id, path));
      if (ctx.json_output) {
        PrintJson(json::object{{"deleted", true}, {"path", path}});
      } else {
        fmt::print("Deleted {} and all its versions\n", path);
      }
      return OkStatus();
    });
  }

  int Versions() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::VersionList list, c.ListVersions(vault_id, path));
      if (ctx.json_output) {
        PrintJson(list.json);
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : list.versions) {
        const json::value* destroyed = v.json.if_contains("is_destroyed");
        const bool is_destroyed =
            destroyed != nullptr && destroyed->is_bool() && destroyed->get_bool();
        std::string aliases;
        if (const json::value* a = v.json.if_contains("aliases"); a != nullptr && a->is_array()) {
          for (const json::value& name : a->get_array()) {
            if (!name.is_string()) continue;
            if (!aliases.empty()) aliases += ",";
            aliases += std::string(name.get_string());
          }
        }
        rows.push_back({std::to_string(v.version), v.type,
                        is_destroyed ? "destroyed" : (v.is_disabled ? "disabled" : "active"),
                        aliases.empty() ? "-" : aliases, v.created_at, OrDash(v.expires_at),
                        AccessText(v.access_count, v.max_access_count)});
      }
      fmt::print("{}",
                 RenderTable({"VERSION", "TYPE", "STATE", "ALIASES", "CREATED", "EXPIRES", "READS"},
                             rows));
      return OkStatus();
    });
  }

  int Rotate() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      client::RotateSecretInput input;
      if (length > 0) input.length = length;
      if (!charset.empty()) input.charset = charset;
      if (!rotate_type.empty()) input.type = rotate_type;
      if (!stage.empty()) input.stage = stage;
      ASSIGN_OR_RETURN(client::SecretMeta m, c.RotateSecret(vault_id, path, input));
      PrintMeta(m, "Rotated");
      return OkStatus();
    });
  }

  int Disable() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(int64_t v, ParseVersion(version_text));
      ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault));
      ASSIGN_OR_RETURN(client::SecretMeta m, c.DisableVersion(vault_id, path, v));
      if (ctx.json_output) {
        PrintJson(m.json);
      } else {
        fmt::print("Disabled version {} of {}\n", m.version, m.path);
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddSecretCommands(CLI::App* secrets, ClientContext& ctx) {
  auto m = std::make_shared<SecretCommands>(ctx);
  auto vault_path = [&m](CLI::App* cmd) {
    cmd->add_option("vault", m->vault, "Vault name or id")->required();
    cmd->add_option("path", m->path, "Secret path, e.g. api-keys/openai")->required();
  };
  CLI::App* c = ctx.Leaf(
      secrets, "put",
      "Store a new version of a secret. The value is read from stdin (hidden prompt on a "
      "terminal; one trailing newline dropped) or --value-file, never from the command line",
      "printf %s \"$OPENAI_KEY\" | coffer secrets put prod api-keys/openai --type api_key "
      "--metadata '{\"team\":\"ml\"}'",
      [m] { return m->Put(); });
  vault_path(c);
  c->add_option("--type,-t", m->type, std::string("Secret type: ") + std::string(kSecretTypes))
      ->capture_default_str();
  c->add_option("--value-file,-f", m->value_file,
                "Read the value from FILE, byte for byte ('-': stdin)");
  c->add_option("--metadata,-m", m->metadata, "JSON object of metadata, e.g. '{\"team\":\"ml\"}'");
  c->add_option("--expires-at", m->expires_at, "RFC 3339 time after which reads get 410 Gone");
  c->add_option("--max-access-count", m->max_access_count,
                "Reads allowed before the version is spent (0: unlimited)");
  c->add_option("--rotation-policy", m->rotation_policy, "JSON object stored with the secret");
  auto* if_match = c->add_option("--if-match", m->if_match,
                                 "Write only if the secret's latest version is N (else exit "
                                 "with a conflict and write nothing)")
                       ->check(CLI::PositiveNumber);
  c->add_flag("--only-create", m->only_create, "Write only if no secret exists at the path yet")
      ->excludes(if_match);
  c->add_option("--stage", m->stage,
                "current (default: the new version is what reads return) or pending (promote "
                "it later with `coffer secrets promote`)");
  c->add_option("--max-versions", m->max_versions,
                "Versions this secret keeps at most; older ones are destroyed (0: no limit)");
  // Taken only to refuse it with a reason (CLI11 would echo an unknown option's value).
  c->add_option("--value", m->argv_value, "Refused: use stdin or --value-file")->group("");
  c = ctx.Leaf(
      secrets, "get", "Print a secret's value, bare (for $(…) and pipes); --json adds its metadata",
      "export OPENAI_API_KEY=$(coffer secrets get prod api-keys/openai)", [m] { return m->Get(); });
  vault_path(c);
  auto* by_version =
      c->add_option("--version,-V", m->version_text, "A specific version instead of the latest");
  c->add_option("--alias,-a", m->alias, "The version an alias (e.g. pending) names")
      ->excludes(by_version);
  c->add_option("--wait,-W", m->wait_seconds,
                "Wait up to this many seconds (1-300) for a version newer than --after-version")
      ->check(CLI::Range(1, 300));
  c->add_option("--after-version", m->after_version,
                "With --wait: the version you have (default 0)")
      ->check(CLI::NonNegativeNumber);
  c = ctx.Leaf(secrets, "list", "List the secrets of a vault (metadata only, never values)",
               "coffer secrets list prod --prefix api-keys/", [m] { return m->List(); });
  c->add_option("vault", m->vault, "Vault name or id")->required();
  c->add_option("--prefix,-p", m->prefix, "Only paths starting with this");
  c = ctx.Leaf(secrets, "delete", "Delete a secret and all its versions",
               "coffer secrets delete prod api-keys/old", [m] { return m->Delete(); });
  vault_path(c);
  c = ctx.Leaf(secrets, "versions", "List every version of a secret, newest first",
               "coffer secrets versions prod api-keys/openai", [m] { return m->Versions(); });
  vault_path(c);
  c = ctx.Leaf(secrets, "rotate",
               "Store a new server-generated value (never sent to or shown by the client)",
               "coffer secrets rotate prod db/password --length 40 --charset alphanumeric",
               [m] { return m->Rotate(); });
  vault_path(c);
  c->add_option("--length,-l", m->length, "Length of the new value, 8-1024 (server default 32)");
  c->add_option("--charset,-c", m->charset, "hex, base64, alphanumeric or ascii (default hex)");
  c->add_option("--type,-t", m->rotate_type, "Change the secret's type with this version");
  c->add_option("--stage", m->stage, "current (default) or pending");
  c = ctx.Leaf(secrets, "disable", "Disable one version: reads of it get 410, the row is kept",
               "coffer secrets disable prod api-keys/openai 3", [m] { return m->Disable(); });
  vault_path(c);
  c->add_option("version", m->version_text, "Version number")->required();
  AddScheduleCommands(secrets, ctx);
  AddLifecycleCommands(secrets, ctx);
  AddUnusedCommand(secrets, ctx);
}

}  // namespace coffer::cli
