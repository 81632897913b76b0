// Server configuration: defaults, overridden by an optional TOML file, then COFFER_* environment
// variables, then command-line flags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace coffer::server {

struct ServerConfig {
  std::string data_dir = "./coffer-data";
  std::string listen = "127.0.0.1:8200";
  std::string store;          // empty: SQLite at <data_dir>/coffer.db
  std::string root_key_file;  // empty: <data_dir>/root.key (unless COFFER_ROOT_KEY is set)
  // file:PATH or an RFC 7512 pkcs11: URI (docs/operations.md, "Root key in an HSM"); when set,
  // it names the root key instead of root_key_file and COFFER_ROOT_KEY.
  std::string root_key_uri;
  // Numbers are 64-bit whatever their use, so a value from any source is checked against its
  // bound (common/option_bounds.h) before it is narrowed.
  int64_t io_threads = 0;  // 0: one per core
  int64_t worker_threads = 32;
  int64_t max_body_bytes = 1 << 20;
  int64_t read_timeout_ms = 15'000;
  int64_t idle_timeout_ms = 60'000;
  int64_t first_request_timeout_ms = 5'000;   // a new connection's first request header
  int64_t max_connections_per_address = 256;  // 0: no limit
  int64_t max_connections = 0;                // 0: the open-file limit less a reserve
  int64_t token_ttl_seconds = 900;
  int64_t ui_session_ttl_seconds = 3600;  // a dashboard session's life from sign-in
  // Failed authentications one client address may make at once, and how many more per minute.
  int64_t auth_failure_burst = 20;
  int64_t auth_failures_per_minute = 60;
  // Rotation schedules (docs/rotation.md): the shortest interval a rotation_policy may ask for,
  // how long before a version's expires_at secret.expiring is recorded, and how often the
  // scheduler looks for due work.
  int64_t rotation_min_interval_seconds = 60;
  int64_t expiry_warning_seconds = 7 * 86'400;
  int64_t scheduler_interval_ms = 1'000;
  // How often usage counts (reads, agents' last use) kept in memory go to the store
  // (docs/usage.md); a crash loses at most this window of counts.
  int64_t usage_flush_interval_ms = 5'000;
  std::string log_level = "info";  // lower case: one of kLogLevels
  // Addresses/CIDRs of reverse proxies whose X-Forwarded-For is believed.
  std::string trusted_proxies;
  // HTTPS when both are set: PEM certificate chain and its private key (re-read on SIGHUP).
  std::string tls_cert;
  std::string tls_key;
  // Allows plain HTTP on a non-loopback address (behind a TLS-terminating proxy).
  bool insecure_listen = false;
  // The base URL clients reach this server at ("https://vault.example.com"), for the links it
  // makes (share links). Empty: the address it listens on, with http or https.
  std::string public_url;
  // Outbound requests (webhooks): CIDR blocks the SSRF guard lets through although they are
  // private, loopback, … (gateway/egress_guard.h); plain http:// endpoint URLs; and the wait
  // after a delivery's first failed attempt (docs/webhooks.md).
  std::vector<std::string> egress_allow;
  bool webhook_allow_http = false;
  int64_t webhook_first_retry_ms = 5'000;
  // The agent gateway: calls per agent per minute, and per agent per day (UTC), across every
  // server sharing the store.
  int64_t gateway_agent_rpm = 600;
  int64_t gateway_agent_daily_budget = 100'000;

  std::string RootKeyFile() const;
  std::string StorePath() const;  // the SQLite file
};

// Loads a TOML file over `config`. kInvalidArgument naming the key at fault: an unknown key (so a
// typo is not silently ignored), a wrong type, a number outside its bound, an unknown log level;
// kNotFound when the file is missing; kFailedPrecondition when it is not a regular file (a
// directory, a FIFO) or cannot be read.
Status LoadTomlConfig(const std::string& path, ServerConfig& config);

// Every number of `config` within its bound and a known log level, whatever set them;
// kInvalidArgument naming the first option at fault and its bound.
Status CheckServerConfig(const ServerConfig& config);

// OK when `url` is empty or an http(s) URL with a host and at most a path (no query, fragment or
// user info); kInvalidArgument naming public_url otherwise.
Status CheckPublicUrl(std::string_view url);

// Splits "host:port" ("[::1]:8200" for IPv6). kInvalidArgument.
Status ParseListen(const std::string& listen, std::string& host, uint16_t& port);

}  // namespace coffer::server
