// TOML configuration loading and listen-address parsing.
#include "server/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <iterator>
#include <string_view>
#include <utility>

#include "common/option_bounds.h"
#include "common/regular_file.h"
#include "gateway/egress_guard.h"

namespace coffer::server {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

}  // namespace

std::string ServerConfig::RootKeyFile() const {
  return root_key_file.empty() ? data_dir + "/root.key" : root_key_file;
}

std::string ServerConfig::StorePath() const {
  if (store.empty()) return data_dir + "/coffer.db";
  if (store.starts_with("sqlite://")) return store.substr(9);
  if (store.starts_with("sqlite:")) return store.substr(7);
  return store;
}

Status LoadTomlConfig(const std::string& path, ServerConfig& config) {
  // Read here rather than by toml++, so a directory, a FIFO or an unreadable file is an error
  // that names it (and a FIFO is never waited on).
  ASSIGN_OR_RETURN(const std::string text, ReadRegularFile(path, "config file", kMaxConfigBytes));
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", path, where.line, where.column, std::string(e.description())));
  }
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    auto str = [&](std::string& out) -> Status {
      if (!node.is_string()) {
        return InvalidArgumentError(fmt::format("{}: {} must be a string", path, k));
      }
      out = node.as_string()->get();
      return OkStatus();
    };
    auto integer = [&](int64_t& out) -> Status {
      const IntegerBound& bound = IntegerBoundOf(k);
      if (!node.is_integer()) {
        return InvalidArgumentError(fmt::format("{}: {} must be an integer between {} and {}", path,
                                                k, bound.min, bound.max));
      }
      const int64_t value = node.as_integer()->get();
      if (Status s = CheckInteger(bound, value, k); !s.ok()) {
        return InvalidArgumentError(fmt::format("{}: {}", path, s.message()));
      }
      out = value;
      return OkStatus();
    };
    auto log_level = [&](std::string& out) -> Status {
      std::string text;
      RETURN_IF_ERROR(str(text));
      auto level = NormalizeLogLevel(text);
      if (!level.has_value()) {
        return InvalidArgumentError(fmt::format("{}: {} {}", path, k, level.error().message()));
      }
      out = std::move(*level);
      return OkStatus();
    };
    auto boolean = [&](bool& out) -> Status {
      if (!node.is_boolean()) {
        return InvalidArgumentError(fmt::format("{}: {} must be true or false", path, k));
      }
      out = node.as_boolean()->get();
      return OkStatus();
    };
    // One row per key: its name and how its value is read into the config.
    const std::pair<std::string_view, std::function<Status()>> keys[] = {
        {"data_dir", [&] { return str(config.data_dir); }},
        {"listen", [&] { return str(config.listen); }},
        {"store", [&] { return str(config.store); }},
        {"root_key_file", [&] { return str(config.root_key_file); }},
        {"root_key_uri", [&] { return str(config.root_key_uri); }},
        {"log_level", [&] { return log_level(config.log_level); }},
        {"trusted_proxies", [&] { return str(config.trusted_proxies); }},
        {"tls_cert", [&] { return str(config.tls_cert); }},
        {"tls_key", [&] { return str(config.tls_key); }},
        {"insecure_listen", [&] { return boolean(config.insecure_listen); }},
        {"public_url", [&] { return str(config.public_url); }},
        {"webhook_allow_http", [&] { return boolean(config.webhook_allow_http); }},
        {"webhook_first_retry_ms", [&] { return integer(config.webhook_first_retry_ms); }},
        {"io_threads", [&] { return integer(config.io_threads); }},
        {"worker_threads", [&] { return integer(config.worker_threads); }},
        {"max_body_bytes", [&] { return integer(config.max_body_bytes); }},
        {"read_timeout_ms", [&] { return integer(config.read_timeout_ms); }},
        {"idle_timeout_ms", [&] { return integer(config.idle_timeout_ms); }},
        {"first_request_timeout_ms", [&] { return integer(config.first_request_timeout_ms); }},
        {"max_connections_per_address",
         [&] { return integer(config.max_connections_per_address); }},
        {"max_connections", [&] { return integer(config.max_connections); }},
        {"token_ttl_seconds", [&] { return integer(config.token_ttl_seconds); }},
        {"ui_session_ttl_seconds", [&] { return integer(config.ui_session_ttl_seconds); }},
        {"auth_failure_burst", [&] { return integer(config.auth_failure_burst); }},
        {"auth_failures_per_minute", [&] { return integer(config.auth_failures_per_minute); }},
        {"rotation_min_interval_seconds",
         [&] { return integer(config.rotation_min_interval_seconds); }},
        {"expiry_warning_seconds", [&] { return integer(config.expiry_warning_seconds); }},
        {"scheduler_interval_ms", [&] { return integer(config.scheduler_interval_ms); }},
        {"usage_flush_interval_ms", [&] { return integer(config.usage_flush_interval_ms); }},
        {"gateway_agent_rpm", [&] { return integer(config.gateway_agent_rpm); }},
        {"gateway_agent_daily_budget", [&] { return integer(config.gateway_agent_daily_budget); }},
    };
    const auto* row =
        std::find_if(std::begin(keys), std::end(keys), [&](const auto& r) { return r.first == k; });
    if (row == std::end(keys)) {
      return InvalidArgumentError(fmt::format("{}: unknown key '{}'", path, k));
    }
    RETURN_IF_ERROR(row->second());
  }
  return OkStatus();
}

Status CheckServerConfig(const ServerConfig& config) {
  const std::pair<std::string_view, int64_t> numbers[] = {
      {"io_threads", config.io_threads},
      {"worker_threads", config.worker_threads},
      {"max_body_bytes", config.max_body_bytes},
      {"read_timeout_ms", config.read_timeout_ms},
      {"idle_timeout_ms", config.idle_timeout_ms},
      {"first_request_timeout_ms", config.first_request_timeout_ms},
      {"max_connections_per_address", config.max_connections_per_address},
      {"max_connections", config.max_connections},
      {"token_ttl_seconds", config.token_ttl_seconds},
      {"ui_session_ttl_seconds", config.ui_session_ttl_seconds},
      {"auth_failure_burst", config.auth_failure_burst},
      {"auth_failures_per_minute", config.auth_failures_per_minute},
      {"rotation_min_interval_seconds", config.rotation_min_interval_seconds},
      {"expiry_warning_seconds", config.expiry_warning_seconds},
      {"scheduler_interval_ms", config.scheduler_interval_ms},
      {"webhook_first_retry_ms", config.webhook_first_retry_ms},
      {"usage_flush_interval_ms", config.usage_flush_interval_ms},
      {"gateway_agent_rpm", config.gateway_agent_rpm},
      {"gateway_agent_daily_budget", config.gateway_agent_daily_budget},
  };
  for (const auto& [key, value] : numbers) {
    RETURN_IF_ERROR(CheckInteger(IntegerBoundOf(key), value));
  }
  for (const std::string& block : config.egress_allow) {
    auto parsed = gateway::EgressGuard::ParseAllowList(block);
    if (!parsed.has_value()) {
      return InvalidArgumentError("--egress-allow: " + parsed.error().message());
    }
  }
  auto level = NormalizeLogLevel(config.log_level);
  if (!level.has_value()) return InvalidArgumentError("--log-level " + level.error().message());
  return CheckPublicUrl(config.public_url);
}

Status CheckPublicUrl(std::string_view url) {
  if (url.empty()) return OkStatus();
  const Status bad = InvalidArgumentError(
      "public_url must be an http:// or https:// URL with a host and at most a path, e.g. "
      "https://vault.example.com");
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return bad;
  }
  const std::string_view host = rest.substr(0, rest.find('/'));
  if (host.empty()) return bad;
  for (const char c : url) {
    // No query, fragment or user info; nothing a link could not carry as it is.
    if (c == '?' || c == '#' || c == '@' || c == '\\' || static_cast<unsigned char>(c) <= ' ' ||
        static_cast<unsigned char>(c) >= 0x7f) {
      return bad;
    }
  }
  return OkStatus();
}

Status ParseListen(const std::string& listen, std::string& host, uint16_t& port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) {
    return InvalidArgumentError("listen must be HOST:PORT, e.g. 127.0.0.1:8200");
  }
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return InvalidArgumentError("listen must be HOST:PORT, e.g. 127.0.0.1:8200");
  const std::string p = listen.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || ptr != p.data() + p.size() || value > 65535) {
    return InvalidArgumentError("listen port must be a number from 0 to 65535");
  }
  port = static_cast<uint16_t>(value);
  return OkStatus();
}

}  // namespace coffer::server
