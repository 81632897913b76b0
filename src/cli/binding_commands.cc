// `coffer bindings list|get|create|update|delete|test|executions|execute --agent A`: an agent's
// bindings (a secret and where the agent may send it, docs/gateway.md), the calls made through
// them, and one call made by the server with the credential attached. No command prints or sends
// a secret value: a binding names its secret by vault and path.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "cli/client_command.h"
#include "cli/table.h"
#include "client/api_json.h"
#include "client/exit_codes.h"
#include "client/secret_reference.h"
#include "common/ids.h"

namespace coffer::cli {
namespace {

using client::CofferClient;
using client::WipedJson;
namespace json = boost::json;

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

const json::object& Member(const json::object& o, std::string_view key) {
  static const json::object kEmpty;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->get_object() : kEmpty;
}

const json::array& Items(const WipedJson& doc, std::string_view key) {
  static const json::array kEmpty;
  if (!doc.value().is_object()) return kEmpty;
  const json::value* v = doc.value().get_object().if_contains(key);
  return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
}

// "a,b" for a list of strings; "-" when absent.
std::string ListText(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) return "-";
  std::string out;
  for (const json::value& item : v->get_array()) {
    if (!out.empty()) out += ',';
    out += item.is_string() ? std::string(item.get_string()) : json::serialize(item);
  }
  return out.empty() ? "-" : out;
}

std::string SecretText(const json::object& b) {
  return fmt::format("{}/{}", Text(b, "credential_vault_id"), Text(b, "credential_path"));
}

// 'Name: value' from --header: kInvalidArgument without a ':' or a name.
StatusOr<std::pair<std::string, std::string>> ParseHeader(std::string_view text) {
  const size_t colon = text.find(':');
  const auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
  };
  if (colon == std::string_view::npos || trim(text.substr(0, colon)).empty()) {
    return Err(InvalidArgumentError("--header takes 'Name: value'"));
  }
  return std::pair{trim(text.substr(0, colon)), trim(text.substr(colon + 1))};
}

// %XX and '+' of a query string component decoded.
std::string QueryDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) != 0 &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2])) != 0) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The bytes of --data: the text itself, @FILE's bytes, or @- for stdin's.
StatusOr<std::string> ReadData(const std::string& data) {
  if (!data.starts_with('@')) return data;
  const std::string file = data.substr(1);
  const int fd = file == "-" ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Err(
        InvalidArgumentError(fmt::format("cannot open --data {}: {}", file, std::strerror(errno))));
  }
  std::string out;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  if (fd != STDIN_FILENO) ::close(fd);
  return out;
}

struct BindingCommands {
  explicit BindingCommands(ClientContext& c) : ctx(c) {}
  ClientContext& ctx;
  std::string agent = "self", binding, name, method, path, data;
  // create/update: each set only when given.
  std::optional<std::string> base_url, secret, vault, secret_path, auth, auth_header, auth_prefix,
      auth_query_param;
  std::vector<std::string> headers, allow_methods, allow_paths, queries;
  std::optional<int64_t> rpm, max_duration_ms;
  bool active = false, inactive = false;
  int64_t limit = 50, offset = 0, timeout_ms = 0;

  // The agent's id: "self" (the calling agent) as it is, else AgentId.
  StatusOr<std::string> Agent(CofferClient& c) {
    if (agent == "self") return agent;
    return AgentId(c, agent);
  }

  StatusOr<std::string> BindingId(CofferClient& c, const std::string& agent_id) {
    if (IsUuid(binding)) return binding;
    return c.ResolveBinding(agent_id, binding);
  }

  // credential_source from --secret VAULT/PATH or --vault with --path; nullopt when none given.
  StatusOr<std::optional<json::object>> CredentialSource(CofferClient& c) {
    std::string vault_name, p;
    if (secret.has_value()) {
      if (vault.has_value() || secret_path.has_value()) {
        return Err(InvalidArgumentError("give --secret VAULT/PATH or --vault with --path"));
      }
      ASSIGN_OR_RETURN(client::SecretReference ref,
                       client::ParseSecretReference(*secret, /*scheme_optional=*/true));
      if (ref.version.has_value()) {
        return Err(InvalidArgumentError(
            "--secret: a binding always uses the current version; give no #VERSION"));
      }
      vault_name = ref.vault;
      p = ref.path;
    } else if (vault.has_value() || secret_path.has_value()) {
      if (!vault.has_value() || !secret_path.has_value()) {
        return Err(InvalidArgumentError("--vault and --path go together"));
      }
      vault_name = *vault;
      p = *secret_path;
    } else {
      return std::optional<json::object>();
    }
    ASSIGN_OR_RETURN(std::string vault_id, c.ResolveVault(vault_name));
    return std::optional<json::object>(
        json::object{{"type", "vault_ref"}, {"vault_id", vault_id}, {"path", p}});
  }

  // Applies the config flags to `config`; `changed` tells whether any was given.
  Status ApplyConfig(json::object& config, bool& changed) {
    changed = false;
    if (base_url.has_value()) {
      config["base_url"] = *base_url;
      changed = true;
    }
    if (auth.has_value()) {
      // Another kind of auth: the old kind's own settings no longer apply.
      if (const json::value* old = config.if_contains("auth_type");
          old == nullptr || !old->is_string() || old->get_string() != *auth) {
        config.erase("auth_header");
        config.erase("auth_prefix");
        config.erase("auth_query_param");
      }
      config["auth_type"] = *auth;
      changed = true;
    }
    const std::pair<const std::optional<std::string>*, const char*> fields[] = {
        {&auth_header, "auth_header"},
        {&auth_prefix, "auth_prefix"},
        {&auth_query_param, "auth_query_param"}};
    for (const auto& [value, key] : fields) {
      if (value->has_value()) {
        config[key] = **value;
        changed = true;
      }
    }
    if (!headers.empty()) {
      json::object extra = Member(config, "headers");
      for (const std::string& h : headers) {
        ASSIGN_OR_RETURN(auto kv, ParseHeader(h));
        extra[kv.first] = kv.second;
      }
      config["headers"] = std::move(extra);
      changed = true;
    }
    return OkStatus();
  }

  // Applies the guardrail flags to `guardrails`; `changed` tells whether any was given.
  void ApplyGuardrails(json::object& guardrails, bool& changed) {
    changed = false;
    const auto set_list = [&](const std::vector<std::string>& items, const char* key) {
      if (items.empty()) return;
      json::array list;
      for (const std::string& i : items) list.push_back(json::string(i));
      guardrails[key] = std::move(list);
      changed = true;
    };
    set_list(allow_methods, "allowed_methods");
    set_list(allow_paths, "allowed_paths");
    if (rpm.has_value()) {
      guardrails["max_requests_per_minute"] = *rpm;
      changed = true;
    }
    if (max_duration_ms.has_value()) {
      guardrails["max_duration_ms"] = *max_duration_ms;
      changed = true;
    }
  }

  void PrintBinding(const WipedJson& doc, std::string_view verb) {
    if (ctx.json_output || !doc.value().is_object()) {
      PrintJson(doc.value());
      return;
    }
    const json::object& b = doc.value().get_object();
    const json::object& config = Member(b, "config");
    const json::object& guardrails = Member(b, "guardrails");
    if (!verb.empty()) fmt::print("{} binding {} ({})\n", verb, Text(b, "name"), Text(b, "id"));
    const std::pair<const char*, std::string> lines[] = {
        {"name", Text(b, "name")},
        {"id", Text(b, "id")},
        {"agent", Text(b, "agent_id")},
        {"type", Text(b, "binding_type")},
        {"active", Text(b, "is_active")},
        {"base_url", Text(config, "base_url")},
        {"auth", Text(config, "auth_type")},
        {"secret", SecretText(b)},
        {"credential_set", Text(b, "credential_set")},
        {"methods", ListText(guardrails, "allowed_methods")},
        {"paths", ListText(guardrails, "allowed_paths")},
        {"rpm", Text(guardrails, "max_requests_per_minute")},
        {"max_duration_ms", Text(guardrails, "max_duration_ms")},
        {"created", Text(b, "created_at")},
        {"updated", Text(b, "updated_at")},
    };
    std::vector<std::vector<std::string>> rows;
    for (const auto& [key, value] : lines) rows.push_back({key, value});
    fmt::print("{}", RenderTable({"FIELD", "VALUE"}, rows));
  }

  int List() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(WipedJson doc, c.ListBindings(agent_id));
      if (ctx.json_output) {
        PrintJson(doc.value());
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json::value& v : Items(doc, "bindings")) {
        if (!v.is_object()) continue;
        const json::object& b = v.get_object();
        const json::object& config = Member(b, "config");
        rows.push_back({Text(b, "name"), Text(b, "id"), Text(config, "base_url"),
                        Text(config, "auth_type"), SecretText(b),
                        Bool(b, "is_active") ? "active" : "inactive"});
      }
      fmt::print("{}", RenderTable({"NAME", "ID", "BASE URL", "AUTH", "SECRET", "STATE"}, rows));
      return OkStatus();
    });
  }

  static bool Bool(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
  }

  int Get() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(std::string binding_id, BindingId(c, agent_id));
      ASSIGN_OR_RETURN(WipedJson doc, c.GetBinding(agent_id, binding_id));
      PrintBinding(doc, "");
      return OkStatus();
    });
  }

  int Create() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(std::optional<json::object> source, CredentialSource(c));
      if (!source.has_value()) {
        return InvalidArgumentError("give the secret: --secret VAULT/PATH (or --vault and --path)");
      }
      json::object config;
      json::object guardrails;
      bool given = false;  // defaults stand for what is not given
      RETURN_IF_ERROR(ApplyConfig(config, given));
      ApplyGuardrails(guardrails, given);
      json::object body{{"name", name}, {"binding_type", "http"}};
      body["config"] = std::move(config);
      body["guardrails"] = std::move(guardrails);
      body["credential_source"] = std::move(*source);
      ASSIGN_OR_RETURN(WipedJson doc, c.CreateBinding(agent_id, client::Serialize(body)));
      PrintBinding(doc, "Created");
      return OkStatus();
    });
  }

  int Update() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      if (active && inactive) return InvalidArgumentError("give --active or --inactive, not both");
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(std::string binding_id, BindingId(c, agent_id));
      ASSIGN_OR_RETURN(WipedJson current, c.GetBinding(agent_id, binding_id));
      ASSIGN_OR_RETURN(const json::object* b, client::ObjectOf(current));
      json::object body;
      json::object config = Member(*b, "config");
      bool config_changed = false;
      RETURN_IF_ERROR(ApplyConfig(config, config_changed));
      if (config_changed) body["config"] = std::move(config);
      json::object guardrails = Member(*b, "guardrails");
      bool guardrails_changed = false;
      ApplyGuardrails(guardrails, guardrails_changed);
      if (guardrails_changed) body["guardrails"] = std::move(guardrails);
      ASSIGN_OR_RETURN(std::optional<json::object> source, CredentialSource(c));
      if (source.has_value()) body["credential_source"] = std::move(*source);
      if (active || inactive) body["is_active"] = active;
      if (body.empty()) return InvalidArgumentError("nothing to change: give a flag to update");
      ASSIGN_OR_RETURN(WipedJson doc,
                       c.UpdateBinding(agent_id, binding_id, client::Serialize(body)));
      PrintBinding(doc, "Updated");
      return OkStatus();
    });
  }

  int Delete() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(std::string binding_id, BindingId(c, agent_id));
      RETURN_IF_ERROR(c.DeleteBinding(agent_id, binding_id));
      if (ctx.json_output) {
        PrintJson(json::object{{"deleted", true}, {"id", binding_id}});
      } else {
        fmt::print("Deleted binding {} ({})\n", binding, binding_id);
      }
      return OkStatus();
    });
  }

  int Test() {
    bool failed = false;
    const int rc = ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(std::string binding_id, BindingId(c, agent_id));
      ASSIGN_OR_RETURN(WipedJson doc, c.TestBinding(agent_id, binding_id, timeout_ms));
      ASSIGN_OR_RETURN(const json::object* o, client::ObjectOf(doc));
      failed = !Bool(*o, "success");
      if (ctx.json_output) {
        PrintJson(doc.value());
      } else if (!failed) {
        fmt::print("Binding {} answered in {} ms\n", binding, Text(*o, "latency_ms"));
      } else {
        fmt::print("Binding {} failed after {} ms: {}\n", binding, Text(*o, "latency_ms"),
                   Text(*o, "error"));
      }
      return OkStatus();
    });
    return rc == kExitOk && failed ? kExitError : rc;
  }

  int Executions() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      ASSIGN_OR_RETURN(WipedJson doc, c.ListExecutions(agent_id, limit, offset));
      if (ctx.json_output) {
        PrintJson(doc.value());
        return OkStatus();
      }
      std::vector<std::vector<std::string>> rows;
      for (const json::value& v : Items(doc, "events")) {
        if (!v.is_object()) continue;
        const json::object& e = v.get_object();
        const json::object& request = Member(e, "request_summary");
        const json::object& result = Member(e, "result_summary");
        rows.push_back(
            {Text(e, "created_at"), Text(e, "id"),
             e.contains("binding_name") ? Text(e, "binding_name") : Text(e, "binding_id"),
             Text(e, "execution_mode"), Text(request, "method"), Text(request, "path"),
             Text(e, "status"), Text(result, "status_code"), Text(e, "duration_ms"),
             Text(e, "redactions_applied"), Text(e, "error_message")});
      }
      fmt::print("{}", RenderTable({"CREATED", "ID", "BINDING", "MODE", "METHOD", "PATH", "STATUS",
                                    "UPSTREAM", "MS", "REDACTIONS", "ERROR"},
                                   rows));
      return OkStatus();
    });
  }

  int Execute() {
    return ctx.WithClient([&](CofferClient& c) -> Status {
      ASSIGN_OR_RETURN(std::string agent_id, Agent(c));
      WipedJson request;
      json::object params(request.storage());
      params["method"] = method;
      std::string_view target = path;
      json::object query(request.storage());
      if (const size_t q = target.find('?'); q != std::string_view::npos) {
        std::string_view rest = target.substr(q + 1);
        target = target.substr(0, q);
        while (!rest.empty()) {
          const size_t amp = rest.find('&');
          std::string_view pair = rest.substr(0, amp);
          rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
          if (pair.empty()) continue;
          const size_t eq = pair.find('=');
          query[QueryDecode(pair.substr(0, eq))] =
              eq == std::string_view::npos ? std::string() : QueryDecode(pair.substr(eq + 1));
        }
      }
      for (const std::string& q : queries) {
        const size_t eq = q.find('=');
        if (eq == std::string::npos || eq == 0) {
          return InvalidArgumentError("--query takes NAME=VALUE");
        }
        query[q.substr(0, eq)] = q.substr(eq + 1);
      }
      params["path"] = target;
      if (!query.empty()) params["query"] = std::move(query);
      if (!headers.empty()) {
        json::object h(request.storage());
        for (const std::string& text : headers) {
          ASSIGN_OR_RETURN(auto kv, ParseHeader(text));
          h[kv.first] = kv.second;
        }
        params["headers"] = std::move(h);
      }
      if (!data.empty()) {
        ASSIGN_OR_RETURN(std::string body, ReadData(data));
        params["body"] = json::string(body, request.storage());
      }
      json::object o(request.storage());
      o["binding"] = binding;
      o["intent_type"] = "http";
      o["params"] = std::move(params);
      request.value() = std::move(o);
      ASSIGN_OR_RETURN(WipedJson doc, c.Execute(agent_id, request));
      if (ctx.json_output) {
        SecretBuffer text = doc.Serialize();
        WriteStdout(text.view());
        WriteStdout("\n");
        return OkStatus();
      }
      ASSIGN_OR_RETURN(const json::object* answer, client::ObjectOf(doc));
      const json::object& result = Member(*answer, "result");
      if (Text(*answer, "status") != "success" || !result.contains("status_code")) {
        return UnavailableError(
            fmt::format("the call through binding {} failed: {}", binding, Text(*answer, "error")));
      }
      fmt::print(stderr, "HTTP {} ({} ms, {} redactions)\n", Text(result, "status_code"),
                 Text(*answer, "duration_ms"), Text(*answer, "redactions_applied"));
      std::fflush(stderr);
      if (const json::value* body = result.if_contains("body"); body != nullptr) {
        if (body->is_string()) {
          WriteStdout(body->get_string());
        } else if (!body->is_null()) {
          WriteStdout(json::serialize(*body));
        }
      }
      if (result.contains("body_base64")) {
        fmt::print(stderr, "(the body is not UTF-8 text: --json shows it as body_base64)\n");
      }
      return OkStatus();
    });
  }
};

}  // namespace

void AddBindingCommands(CLI::App* bindings, ClientContext& ctx) {
  auto m = std::make_shared<BindingCommands>(ctx);
  const auto agent_option = [m](CLI::App* c, bool required) {
    CLI::Option* o = c->add_option("--agent,-a", m->agent,
                                   "Agent name or id (self: the calling agent" +
                                       std::string(required ? ")" : "; the default)"));
    if (required) o->required();
  };
  const auto config_options = [m](CLI::App* c) {
    c->add_option("--base-url", m->base_url,
                  "Where calls go: https://host[/base-path] (plain http only into the server's "
                  "--egress-allow ranges)");
    c->add_option("--secret,-s", m->secret,
                  "VAULT/PATH of the credential (always its current version)");
    c->add_option("--vault", m->vault, "Vault of the credential (with --path)");
    c->add_option("--path", m->secret_path, "Path of the credential (with --vault)");
    c->add_option("--auth", m->auth, "How the credential is attached (default bearer)")
        ->check(CLI::IsMember({"bearer", "basic", "header", "query"}));
    c->add_option("--auth-header", m->auth_header, "The header carrying it (--auth header)");
    c->add_option("--auth-prefix", m->auth_prefix,
                  "Text before it in the header (default 'Bearer ' for bearer)");
    c->add_option("--auth-query-param", m->auth_query_param,
                  "The query parameter carrying it (--auth query)");
    c->add_option("--header,-H", m->headers, "A fixed header sent on every call: 'Name: value'")
        ->allow_extra_args(false);
    c->add_option("--allow-method", m->allow_methods,
                  "A method the agent may use (repeatable; default all)")
        ->allow_extra_args(false);
    c->add_option("--allow-path", m->allow_paths,
                  "A path glob the agent may call, after base_url's path: * within a segment, ** "
                  "any depth (repeatable; default **)")
        ->allow_extra_args(false);
    c->add_option("--rpm", m->rpm, "Calls per minute at most (default 60)");
    c->add_option("--max-duration-ms", m->max_duration_ms,
                  "Longest a call may take, in ms (default 30000)");
  };
  CLI::App* c = ctx.Leaf(bindings, "list", "List an agent's bindings",
                         "coffer bindings list --agent research-bot", [m] { return m->List(); });
  agent_option(c, false);
  c = ctx.Leaf(bindings, "get", "Show one binding",
               "coffer bindings get --agent research-bot openai", [m] { return m->Get(); });
  agent_option(c, false);
  c->add_option("binding", m->binding, "Binding name or id")->required();
  c = ctx.Leaf(bindings, "create",
               "Let an agent use a secret at one API without reading it (needs read on the "
               "secret, or admin)",
               "coffer bindings create --agent research-bot --name openai --base-url "
               "https://api.openai.com/v1 --secret prod/api-keys/openai --allow-path 'chat/**'",
               [m] { return m->Create(); });
  agent_option(c, true);
  c->add_option("--name,-n", m->name, "Binding name: letters, digits, '-' and '_'")->required();
  config_options(c);
  c->get_option("--base-url")->required();
  c = ctx.Leaf(bindings, "update",
               "Change a binding: only the settings given change (--inactive stops its calls "
               "at once)",
               "coffer bindings update --agent research-bot openai --rpm 120",
               [m] { return m->Update(); });
  agent_option(c, true);
  c->add_option("binding", m->binding, "Binding name or id")->required();
  config_options(c);
  c->add_flag("--active", m->active, "Allow calls through it again");
  c->add_flag("--inactive", m->inactive, "Refuse calls through it and stop those in flight");
  c = ctx.Leaf(bindings, "delete", "Delete a binding (its calls in flight stop at once)",
               "coffer bindings delete --agent research-bot openai", [m] { return m->Delete(); });
  agent_option(c, true);
  c->add_option("binding", m->binding, "Binding name or id")->required();
  c = ctx.Leaf(bindings, "test", "Check that the binding's base_url answers (exit 1 if not)",
               "coffer bindings test --agent research-bot openai", [m] { return m->Test(); });
  agent_option(c, true);
  c->add_option("binding", m->binding, "Binding name or id")->required();
  c->add_option("--timeout-ms", m->timeout_ms, "How long to wait (default: the server's)");
  c = ctx.Leaf(bindings, "executions", "List the calls made through an agent's bindings",
               "coffer bindings executions --agent research-bot --limit 20",
               [m] { return m->Executions(); });
  agent_option(c, false);
  c->add_option("--limit,-l", m->limit, "At most this many, newest first")->capture_default_str();
  c->add_option("--offset", m->offset, "Skip this many");
  c = ctx.Leaf(bindings, "execute",
               "As the agent: have the server call the binding's API with the credential "
               "attached; prints the status (stderr) and the body (stdout)",
               "COFFER_TOKEN=$AGENT_KEY coffer bindings execute openai GET models",
               [m] { return m->Execute(); });
  agent_option(c, false);
  c->add_option("binding", m->binding, "Binding name or id")->required();
  c->add_option("method", m->method, "HTTP method")->required();
  c->add_option("path", m->path, "Path after the base_url (a ?query is passed on)")->required();
  c->add_option("--data,-d", m->data, "Request body: the text, @FILE, or @- for stdin");
  c->add_option("--header,-H", m->headers, "A request header: 'Name: value' (repeatable)")
      ->allow_extra_args(false);
  c->add_option("--query,-q", m->queries, "A query parameter NAME=VALUE (repeatable)")
      ->allow_extra_args(false);
}

}  // namespace coffer::cli
