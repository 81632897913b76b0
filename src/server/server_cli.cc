// The flags of `coffer server`. Every number is checked against its bound
// (common/option_bounds.h), from the flag or the COFFER_* variable alike; the TOML file's values
// were checked as it was read.
#include <CLI/CLI.hpp>

#include "common/option_bounds.h"
#include "server/server_command.h"
#include "server/store_options.h"

namespace coffer::server {

CLI::App* AddServerCommand(CLI::App& app, StoreOptions& options) {
  ServerConfig& config = options.config();
  CLI::App* server = app.add_subcommand("server", "Serve the HTTP API");
  options.AddTo(*server);
  server->add_option("--listen", config.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->envname("COFFER_LISTEN")
      ->capture_default_str();
  server->add_option("--io-threads", config.io_threads, "I/O threads (0: one per core)")
      ->envname("COFFER_IO_THREADS")
      ->check(IntegerOption("io_threads"));
  server->add_option("--worker-threads", config.worker_threads, "Threads for store work")
      ->envname("COFFER_WORKER_THREADS")
      ->check(IntegerOption("worker_threads"))
      ->capture_default_str();
  server->add_option("--max-body-bytes", config.max_body_bytes, "Largest request body (413 above)")
      ->envname("COFFER_MAX_BODY_BYTES")
      ->check(IntegerOption("max_body_bytes"))
      ->capture_default_str();
  server->add_option("--read-timeout-ms", config.read_timeout_ms, "Time to receive a request")
      ->envname("COFFER_READ_TIMEOUT_MS")
      ->check(IntegerOption("read_timeout_ms"))
      ->capture_default_str();
  server->add_option("--idle-timeout-ms", config.idle_timeout_ms, "Keep-alive idle time")
      ->envname("COFFER_IDLE_TIMEOUT_MS")
      ->check(IntegerOption("idle_timeout_ms"))
      ->capture_default_str();
  server
      ->add_option("--first-request-timeout-ms", config.first_request_timeout_ms,
                   "Time a new connection has to send its first request header")
      ->envname("COFFER_FIRST_REQUEST_TIMEOUT_MS")
      ->check(IntegerOption("first_request_timeout_ms"))
      ->capture_default_str();
  server
      ->add_option("--max-connections-per-address", config.max_connections_per_address,
                   "Connections open at once from one client address (0: no limit; raise it "
                   "behind a reverse proxy)")
      ->envname("COFFER_MAX_CONNECTIONS_PER_ADDRESS")
      ->check(IntegerOption("max_connections_per_address"))
      ->capture_default_str();
  server
      ->add_option("--max-connections", config.max_connections,
                   "Connections open at once in all (0: the open-file limit less a reserve)")
      ->envname("COFFER_MAX_CONNECTIONS")
      ->check(IntegerOption("max_connections"))
      ->capture_default_str();
  server->add_option("--token-ttl-seconds", config.token_ttl_seconds, "Lifetime of issued JWTs")
      ->envname("COFFER_TOKEN_TTL_SECONDS")
      ->check(IntegerOption("token_ttl_seconds"))
      ->capture_default_str();
  server
      ->add_option("--ui-session-ttl-seconds,--ui-session-ttl", config.ui_session_ttl_seconds,
                   "Lifetime of a dashboard session from sign-in (absolute)")
      ->envname("COFFER_UI_SESSION_TTL_SECONDS")
      ->check(IntegerOption("ui_session_ttl_seconds"))
      ->capture_default_str();
  server
      ->add_option("--auth-failure-burst", config.auth_failure_burst,
                   "Failed authentications a client address may make at once before 429")
      ->envname("COFFER_AUTH_FAILURE_BURST")
      ->check(IntegerOption("auth_failure_burst"))
      ->capture_default_str();
  server
      ->add_option("--auth-failures-per-minute", config.auth_failures_per_minute,
                   "Further failed authentications allowed per client address and minute")
      ->envname("COFFER_AUTH_FAILURES_PER_MINUTE")
      ->check(IntegerOption("auth_failures_per_minute"))
      ->capture_default_str();
  server
      ->add_option("--rotation-min-interval-seconds", config.rotation_min_interval_seconds,
                   "Shortest rotation interval a rotation_policy may ask for (lower it only for "
                   "tests)")
      ->envname("COFFER_ROTATION_MIN_INTERVAL_SECONDS")
      ->check(IntegerOption("rotation_min_interval_seconds"))
      ->capture_default_str();
  server
      ->add_option("--expiry-warning-seconds", config.expiry_warning_seconds,
                   "How long before a version's expires_at the secret.expiring event is recorded")
      ->envname("COFFER_EXPIRY_WARNING_SECONDS")
      ->check(IntegerOption("expiry_warning_seconds"))
      ->capture_default_str();
  server
      ->add_option("--scheduler-interval-ms", config.scheduler_interval_ms,
                   "How often the rotation scheduler looks for due rotations and expiries")
      ->envname("COFFER_SCHEDULER_INTERVAL_MS")
      ->check(IntegerOption("scheduler_interval_ms"))
      ->capture_default_str();
  server
      ->add_option("--usage-flush-interval-ms", config.usage_flush_interval_ms,
                   "How often read counts and agents' last use go to the store (a crash loses "
                   "at most this window of them)")
      ->envname("COFFER_USAGE_FLUSH_INTERVAL_MS")
      ->check(IntegerOption("usage_flush_interval_ms"))
      ->capture_default_str();
  server->add_option("--log-level", config.log_level, "trace, debug, info, warn, error, off")
      ->envname("COFFER_LOG_LEVEL")
      ->transform(LogLevelOption())
      ->capture_default_str();
  server
      ->add_option("--trusted-proxies", config.trusted_proxies,
                   "Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed")
      ->envname("COFFER_TRUSTED_PROXIES");
  server
      ->add_option("--tls-cert", config.tls_cert,
                   "PEM certificate chain: serve HTTPS (with --tls-key; reloaded on SIGHUP)")
      ->envname("COFFER_TLS_CERT");
  server->add_option("--tls-key", config.tls_key, "PEM private key of --tls-cert")
      ->envname("COFFER_TLS_KEY");
  server
      ->add_flag("--insecure-listen", config.insecure_listen,
                 "Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy)")
      ->envname("COFFER_INSECURE_LISTEN");
  server
      ->add_option("--public-url", config.public_url,
                   "Base URL clients reach this server at, for the share links it makes "
                   "(default: the listen address)")
      ->envname("COFFER_PUBLIC_URL");
  server
      ->add_option("--egress-allow", config.egress_allow,
                   "CIDR block outbound requests (webhooks) may reach although it is private, "
                   "loopback or link-local (repeatable; env: comma-separated)")
      ->envname("COFFER_EGRESS_ALLOW")
      ->delimiter(',');
  server
      ->add_flag("--webhook-allow-http", config.webhook_allow_http,
                 "Allow plain http:// webhook URLs (default: https:// only)")
      ->envname("COFFER_WEBHOOK_ALLOW_HTTP");
  server
      ->add_option("--webhook-first-retry-ms", config.webhook_first_retry_ms,
                   "Wait after a webhook delivery's first failed attempt (later waits: 5 min, "
                   "30 min, 2 h, 5 h, 10 h, 10 h)")
      ->envname("COFFER_WEBHOOK_FIRST_RETRY_MS")
      ->check(IntegerOption("webhook_first_retry_ms"))
      ->capture_default_str();
  server
      ->add_option("--gateway-agent-rpm", config.gateway_agent_rpm,
                   "Calls one agent may make through its bindings per minute, on every server "
                   "sharing the store")
      ->envname("COFFER_GATEWAY_AGENT_RPM")
      ->check(IntegerOption("gateway_agent_rpm"))
      ->capture_default_str();
  server
      ->add_option("--gateway-agent-daily-budget", config.gateway_agent_daily_budget,
                   "Calls one agent may make through its bindings per day (UTC)")
      ->envname("COFFER_GATEWAY_AGENT_DAILY_BUDGET")
      ->check(IntegerOption("gateway_agent_daily_budget"))
      ->capture_default_str();
  server->footer("Example:\n  coffer server --data-dir ./coffer-data --listen 127.0.0.1:8200");
  return server;
}

}  // namespace coffer::server
