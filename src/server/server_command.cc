// `coffer server`: wires store, keyring, services, routes and the HTTP server, and runs them.
#include "server/server_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <variant>

#include "api/ops_routes.h"
#include "api/routes.h"
#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/monotonic_clock.h"
#include "common/process_limits.h"
#include "common/random.h"
#include "common/time_format.h"
#include "crypto/key_provider.h"
#include "crypto/keyring.h"
#include "http/client_ip.h"
#include "http/server.h"
#include "server/json_log.h"
#include "server/listen_check.h"
#include "server/server_telemetry.h"
#include "server/store_factory.h"
#include "service/access_cache.h"
#include "service/agent_service.h"
#include "service/audit_log.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/authorizer.h"
#include "service/keyring_refresher.h"
#include "service/policy_service.h"
#include "service/secret_service.h"
#include "service/user_service.h"
#include "service/vault_service.h"
#include "store/observed_store.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer::server {

namespace {

// Every connection is an open file: the soft limit goes up to the hard one, which the operator
// sets (systemd's LimitNOFILE=, ulimit -Hn). The server keeps its connections below it.
void RaiseOpenFileLimit() {
  struct rlimit files {};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace

int RunServer(const ServerConfig& config) {
  DisableCoreDumps();
  if (Status s = CheckServerConfig(config); !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return kExitUsage;
  }
  InstallJsonLogging(config.log_level);

  http::ServerOptions options;
  if (Status s = ParseListen(config.listen, options.host, options.port); !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return kExitUsage;
  }
  if (Status s = CheckListenSecurity(options.host, config.tls_cert, config.tls_key,
                                     config.insecure_listen);
      !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return kExitUsage;
  }
  options.tls_cert_file = config.tls_cert;
  options.tls_key_file = config.tls_key;
  options.on_tls_reload = [](const Status& s) {
    if (s.ok()) {
      spdlog::info("TLS certificate and key reloaded");
    } else {
      spdlog::error("TLS reload failed, still serving the previous certificate: {}", s.message());
    }
  };
  options.io_threads = static_cast<int>(config.io_threads);  // bounded by CheckServerConfig
  options.worker_threads = static_cast<int>(config.worker_threads);
  options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  options.read_timeout = std::chrono::milliseconds(config.read_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  options.first_request_timeout = std::chrono::milliseconds(config.first_request_timeout_ms);
  options.max_connections_per_address = static_cast<size_t>(config.max_connections_per_address);
  options.max_connections = static_cast<size_t>(config.max_connections);
  RaiseOpenFileLimit();  // before the server derives its connection limit from it

  auto provider = RootKeyProviderFor(config);
  auto root_key = provider->LoadRootKey();
  if (!root_key.has_value()) {
    fmt::print(stderr, "error: cannot load the root key from {}: {}\n", provider->Describe(),
               root_key.error().message());
    if (root_key.error().code() == StatusCode::kNotFound) {
      fmt::print(stderr, "hint: run `coffer init --data-dir {}` first\n", config.data_dir);
    }
    return kExitError;
  }
  // One server per SQLite store: it keeps credentials, vaults and policies in memory and hears
  // only of its own changes. (Several servers need PostgreSQL.) Held until the process ends.
  auto lock = LockStore(config, "coffer server");
  if (!lock.has_value()) {
    fmt::print(stderr, "error: {}{}\n", lock.error().message(),
               lock.error().code() == StatusCode::kFailedPrecondition
                   ? "; stop it first, or run several servers on PostgreSQL "
                     "(docs/multi-node.md)"
                   : "");
    return kExitError;
  }
  auto opened = OpenInitializedStore(config, StoreUse::kServer,
                                     [](std::string_view line) { spdlog::warn("{}", line); });
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  auto& [store, wrapped] = std::get<InitializedStore>(opened);
  SystemRandom random;
  auto keyring = Keyring::Unwrap(wrapped, *root_key, random);
  root_key->Wipe();
  if (!keyring.has_value()) {
    fmt::print(stderr, "error: {} ({})\n", keyring.error().message(), provider->Describe());
    return kExitError;
  }

  auto proxies = http::TrustedProxies::Parse(config.trusted_proxies);
  if (!proxies.has_value()) {
    fmt::print(stderr, "error: {}\n", proxies.error().message());
    return kExitUsage;
  }

  // Services reach the store through an observer that times calls for /metrics.
  ServerTelemetry telemetry;
  Store& raw_store = *store.store;
  if (const auto* sqlite = dynamic_cast<const SqliteStore*>(&raw_store)) {
    telemetry.WatchSqliteStore(*sqlite);
    // SQLite's reads are local and quick: a plain read can be answered on the I/O thread. A
    // PostgreSQL read is a network round trip, so every handler runs on the worker pool.
    options.io_thread_routes = true;
  }
  std::unique_ptr<Store> observed_store = NewObservedStore(raw_store, telemetry);

  const Clock& clock = *store.clock;  // the database's on PostgreSQL: see store_factory.h
  AccessCache cache(*observed_store);
  Authorizer authorizer(cache, clock);
  AuditLog audit_log(*observed_store, clock);
  // While a storage fault keeps audit events out of the store, those of requests that changed
  // nothing go to the log (journald under systemd) as ALERT lines, so reads go on, audited.
  audit_log.SetFallback([&telemetry](const AuditEvent& e) {
    telemetry.OnAuditFallback();
    LogAlert("audit_event_not_in_store",
             fmt::format("\"at\":{},\"request_id\":{},\"actor_kind\":{},\"actor_id\":{},"
                         "\"action\":{},\"vault_id\":{},\"path\":{},\"version\":{},"
                         "\"client_ip\":{},\"outcome\":{},\"status\":{},\"http_status\":{},"
                         "\"count\":{}",
                         JsonString(FormatRfc3339(e.at)), JsonString(e.request_id),
                         JsonString(e.actor_kind), JsonString(e.actor_id), JsonString(e.action),
                         JsonString(e.vault_id), JsonString(e.path), e.version,
                         JsonString(e.client_ip), JsonString(e.outcome), JsonString(e.status),
                         e.http_status, e.count > 0 ? e.count : 1));
    return true;
  });
  const MonotonicClock& monotonic_clock = DefaultMonotonicClock();
  const ServiceDeps deps{
      *observed_store, clock, cache, authorizer, audit_log, random, monotonic_clock,
  };
  AuthService::Options auth_options;
  auth_options.token_ttl = std::chrono::seconds(config.token_ttl_seconds);
  auth_options.failure_limit.burst = config.auth_failure_burst;
  auth_options.failure_limit.per_minute = config.auth_failures_per_minute;
  auth_options.on_limited = [&telemetry] { telemetry.OnRateLimitRefused("auth-failures"); };
  AuthService auth(deps, **keyring, std::move(auth_options));
  // Refusals past a client's budget are counted, not audited one by one: their summaries
  // (auth.failed.summary, one per address and minute) are appended from here.
  auth.StartFailureSummaries(std::chrono::seconds(1), [](const Status& s) {
    spdlog::error("cannot append the summary of refused authentications: {}", s.message());
  });
  VaultService vaults(deps);
  // Another process may rotate or retire data keys (coffer keys): re-read them now and then,
  // and at once when a read meets a key id this keyring does not hold.
  auto refresher = std::make_unique<KeyringRefresher>(raw_store, *provider, **keyring);
  refresher->Start(kKeyringRefreshInterval, [](const StatusOr<bool>& r) {
    if (r.has_value()) {
      spdlog::info("data keys reloaded from the store");
    } else {
      spdlog::error("cannot reload the data keys: {}", r.error().message());
    }
  });
  SecretServiceHooks secret_hooks;
  secret_hooks.reload_keyring = [r = refresher.get()] { return r->RefreshSoon(); };
  secret_hooks.on_integrity_failure = [](const IntegrityFailure& f) {
    LogAlert("ciphertext_integrity_failure",
             fmt::format("\"vault_id\":{},\"secret_id\":{},\"path\":{},\"version\":{},"
                         "\"key_id\":{},\"key_held\":{},\"request_id\":{}",
                         JsonString(f.vault_id), JsonString(f.secret_id), JsonString(f.path),
                         f.version, f.key_id.has_value() ? std::to_string(*f.key_id) : "null",
                         f.key_held, JsonString(f.request_id)));
  };
  SecretService secrets(deps, **keyring, std::move(secret_hooks));
  UserService users(deps, auth, **keyring);
  AgentService agents(deps, auth, **keyring);
  PolicyService policies(deps);
  AuditService audit(deps);
  http::Router router;
  api::RegisterRoutes(router, api::ApiServices{auth, audit_log, *proxies, vaults, secrets, users,
                                               agents, policies, audit});
  // Ready: the store answers a read (an unknown user is a fine answer) and the keyring, which
  // the server cannot start without, holds an active data key.
  const Keyring& loaded_keyring = **keyring;
  api::RegisterOpsRoutes(router, api::OpsRoutes{
      .ready = [&raw_store, &loaded_keyring]() -> Status {
        auto probe = raw_store.GetUser("readiness-probe");
        if (!probe.has_value() && probe.error().code() != StatusCode::kNotFound) {
          return UnavailableError("the store does not answer reads");
        }
        if (loaded_keyring.active_data_key_id() == 0) {
          return UnavailableError("the keyring has no active data key");
        }
        return OkStatus();
      },
      .metrics = &telemetry.registry()});

  auto observer = [&telemetry](const http::RequestLogEntry& e) { telemetry.OnRequest(e); };
  auto server = http::HttpServer::Create(options, router, observer);
  if (!server.has_value()) {
    if (server.error().code() == StatusCode::kInvalidArgument) {  // TLS files at fault
      fmt::print(stderr, "error: {}\n", server.error().message());
      return kExitUsage;
    }
    fmt::print(stderr, "error: cannot listen on {}: {}\n", config.listen,
               server.error().message());
    return kExitError;
  }
  telemetry.WatchServer(**server);
  const std::string shown_host =
      options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  fmt::print("coffer listening on {}://{}:{}\n", (*server)->tls() ? "https" : "http", shown_host,
             (*server)->port());
  std::fflush(stdout);
  spdlog::info("at most {} connections at once, {} per client address",
               (*server)->max_connections(),
               options.max_connections_per_address == 0
                   ? std::string("any number")
                   : std::to_string(options.max_connections_per_address));
  Status run = (*server)->Run();
  server->reset();
  auth.StopFailureSummaries();    // the counts still pending go into the audit log
  audit_log.WaitForBackground();  // every event appended before the store closes
  refresher.reset();              // its thread reads the store
  store.clock.reset();            // it may read the store
  store.store.reset();            // drains pending writes and closes the database cleanly
  if (!run.ok()) {
    fmt::print(stderr, "error: {}\n", run.ToString());
    return kExitError;
  }
  spdlog::info("coffer stopped");
  return kExitOk;
}

}  // namespace coffer::server
