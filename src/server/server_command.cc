// `coffer server`: a table of startup steps (check, load, open, wire, listen), each filling in
// what the next needs, then serving until SIGTERM/SIGINT. A step that fails becomes one error
// line on stderr and the exit code, in one place.
#include "server/server_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <optional>
#include <variant>
#include <vector>

#include "common/exit_codes.h"
#include "common/process_limits.h"
#include "common/random.h"
#include "http/server.h"
#include "server/json_log.h"
#include "server/listen_check.h"
#include "server/seal_config.h"
#include "server/seal_gate.h"
#include "server/server_services.h"
#include "server/server_telemetry.h"
#include "server/store_factory.h"
#include "service/keyring_refresher.h"
#include "store/observed_store.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer::server {

namespace {

// Why the server did not start, or stopped: the exit code and what stderr says.
struct Failure {
  int exit_code;
  std::string message;  // "error: MESSAGE"; empty when the step has reported it already
  std::string hint{};   // "hint: HINT" after it, when set
};

Failure Usage(const Status& s) { return {kExitUsage, s.message()}; }

using StepResult = std::expected<void, Failure>;

// What the steps build, in the order they build it; destroyed in reverse (the HTTP server
// first, the store lock last).
struct Startup {
  explicit Startup(const ServerConfig& c) : config(c) {}

  const ServerConfig& config;
  http::ServerOptions options;
  std::unique_ptr<KeyProvider> provider;
  // Dropped once the keyring is unwrapped (a key file's bytes are wiped with it; a PKCS#11 root
  // key stays with its provider, for the keyring refresher).
  std::shared_ptr<RootKey> root_key;
  std::unique_ptr<SqliteStoreLock> lock;
  OpenedStore store;
  std::vector<WrappedKey> wrapped_keys;
  SystemRandom random;
  std::unique_ptr<Keyring> keyring;
  std::optional<http::TrustedProxies> proxies;
  ServerTelemetry telemetry;
  std::unique_ptr<Store> observed_store;
  std::unique_ptr<ServerServices> services;
  // A root key split into unseal shares (unseal.json): the server starts sealed, and the gate
  // builds the services once unsealed (`services` stays empty).
  std::optional<SealConfig> seal;
  std::unique_ptr<SealGate> gate;
  http::Router router;
  std::unique_ptr<http::HttpServer> server;
};

// --- the steps, in the order kSteps runs them

StepResult CheckConfig(Startup& s) {
  if (Status st = CheckServerConfig(s.config); !st.ok()) return std::unexpected(Usage(st));
  InstallJsonLogging(s.config.log_level);
  return {};
}

StepResult CheckListenAddress(Startup& s) {
  if (Status st = ParseListen(s.config.listen, s.options.host, s.options.port); !st.ok()) {
    return std::unexpected(Usage(st));
  }
  if (Status st = CheckListenSecurity(s.options.host, s.config.tls_cert, s.config.tls_key,
                                      s.config.insecure_listen);
      !st.ok()) {
    return std::unexpected(Usage(st));
  }
  return {};
}

// Every connection is an open file: the soft limit goes up to the hard one, which the operator
// sets (systemd's LimitNOFILE=, ulimit -Hn). The server keeps its connections below it.
void RaiseOpenFileLimit() {
  struct rlimit files {};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    const rlim_t soft = files.rlim_cur;
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0) {
      // The server then sizes its connection limit by the lower soft limit.
      spdlog::warn("cannot raise the open-file limit from {} to {}: {}", soft, files.rlim_max,
                   std::strerror(errno));
    }
  }
}

StepResult SetServerOptions(Startup& s) {
  const ServerConfig& config = s.config;
  http::ServerOptions& options = s.options;
  options.tls_cert_file = config.tls_cert;
  options.tls_key_file = config.tls_key;
  options.on_tls_reload = [](const Status& st) {
    if (st.ok()) {
      spdlog::info("TLS certificate and key reloaded");
    } else {
      spdlog::error("TLS reload failed, still serving the previous certificate: {}", st.message());
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
  return {};
}

StepResult LoadRootKey(Startup& s) {
  if (!NamesRootKey(s.config)) {
    auto seal = ReadSealConfig(SealConfigPath(s.config));
    if (!seal.has_value()) return std::unexpected(Failure{kExitError, seal.error().message()});
    if (seal->has_value()) {
      s.seal = **seal;
      spdlog::info(
          "the root key is split into {} unseal shares, {} of which open it: starting "
          "sealed",
          s.seal->shares, s.seal->threshold);
      return {};
    }
  }
  auto provider = RootKeyProviderFor(s.config);
  if (!provider.has_value()) {
    return std::unexpected(Failure{kExitError, provider.error().message()});
  }
  s.provider = std::move(*provider);
  auto root_key = s.provider->OpenRootKey(s.random);
  if (!root_key.has_value()) {
    return std::unexpected(
        Failure{kExitError,
                fmt::format("cannot load the root key from {}: {}", s.provider->Describe(),
                            root_key.error().message()),
                root_key.error().code() == StatusCode::kNotFound
                    ? fmt::format("run `coffer init --data-dir {}` first", s.config.data_dir)
                    : ""});
  }
  s.root_key = std::move(*root_key);
  return {};
}

// One server per SQLite store: it keeps credentials, vaults and policies in memory and hears
// only of its own changes. (Several servers need PostgreSQL.) Held until the process ends.
StepResult LockTheStore(Startup& s) {
  auto lock = LockStore(s.config, "coffer server");
  if (!lock.has_value()) {
    return std::unexpected(Failure{
        kExitError,
        lock.error().message() + (lock.error().code() == StatusCode::kFailedPrecondition
                                      ? "; stop it first, or run several servers on PostgreSQL "
                                        "(docs/multi-node.md)"
                                      : "")});
  }
  s.lock = std::move(*lock);
  return {};
}

StepResult OpenTheStore(Startup& s) {
  auto opened = OpenInitializedStore(s.config, StoreUse::kServer,
                                     [](std::string_view line) { spdlog::warn("{}", line); });
  if (std::holds_alternative<int>(opened)) {
    return std::unexpected(Failure{std::get<int>(opened), ""});  // reported by the factory
  }
  auto& [store, keys] = std::get<InitializedStore>(opened);
  s.store = std::move(store);
  s.wrapped_keys = std::move(keys);
  return {};
}

StepResult UnwrapKeyring(Startup& s) {
  if (s.seal.has_value()) return {};  // done by the gate once unsealed
  // The root key must open the keys already there before a key sealed by it is added: a wrong
  // root key would otherwise leave a key behind that the right one cannot open.
  if (!s.wrapped_keys.empty()) {
    if (Status opened = Keyring::Verify(s.wrapped_keys.front(), *s.root_key); !opened.ok()) {
      s.root_key.reset();
      return std::unexpected(
          Failure{kExitError, fmt::format("{} ({})", opened.message(), s.provider->Describe())});
    }
  }
  // A store from before Ed25519 token keys gets one now (old HS256 tokens stop verifying).
  auto added = EnsureTokenSigningKey(*s.store.store, *s.root_key, s.random, s.store.clock->Now(),
                                     s.wrapped_keys);
  if (!added.has_value()) {
    s.root_key.reset();
    return std::unexpected(Failure{
        kExitError, fmt::format("cannot add a token signing key: {}", added.error().message())});
  }
  if (*added) spdlog::info("added an Ed25519 token signing key to the keyring");
  auto keyring = Keyring::Unwrap(s.wrapped_keys, *s.root_key, s.random);
  s.root_key.reset();
  if (!keyring.has_value()) {
    return std::unexpected(Failure{
        kExitError, fmt::format("{} ({})", keyring.error().message(), s.provider->Describe())});
  }
  s.keyring = std::move(*keyring);
  return {};
}

StepResult ParseTrustedProxies(Startup& s) {
  auto proxies = http::TrustedProxies::Parse(s.config.trusted_proxies);
  if (!proxies.has_value()) return std::unexpected(Usage(proxies.error()));
  s.proxies = std::move(*proxies);
  return {};
}

// Services reach the store through an observer that times calls for /metrics.
StepResult WireServices(Startup& s) {
  Store& raw_store = *s.store.store;
  if (const auto* sqlite = dynamic_cast<const SqliteStore*>(&raw_store)) {
    s.telemetry.WatchSqliteStore(*sqlite);
    // SQLite's reads are local and quick: a plain read can be answered on the I/O thread. A
    // PostgreSQL read is a network round trip, so every handler runs on the worker pool.
    s.options.io_thread_routes = true;
  }
  s.observed_store = NewObservedStore(raw_store, s.telemetry);
  if (s.seal.has_value()) {
    s.gate = std::make_unique<SealGate>(SealGateInputs{.config = s.config,
                                                       .seal = *s.seal,
                                                       .raw_store = raw_store,
                                                       .observed_store = *s.observed_store,
                                                       .clock = *s.store.clock,
                                                       .random = s.random,
                                                       .telemetry = s.telemetry,
                                                       .proxies = *s.proxies,
                                                       .monotonic = DefaultMonotonicClock()});
    s.gate->RegisterRoutes(s.router);
    return {};
  }
  s.services = std::make_unique<ServerServices>(
      ServiceInputs{.config = s.config,
                    .raw_store = raw_store,
                    .observed_store = *s.observed_store,
                    .clock = *s.store.clock,  // the database's on PostgreSQL: see store_factory.h
                    .random = s.random,
                    .provider = *s.provider,
                    .keyring = *s.keyring,
                    .telemetry = s.telemetry});
  s.services->RegisterRoutes(s.router, *s.proxies);
  return {};
}

// "http://127.0.0.1:8200": the scheme, the host as given to --listen (bracketed when IPv6) and
// the bound port.
std::string ListeningUrl(const Startup& s) {
  const std::string host =
      s.options.host.find(':') != std::string::npos ? "[" + s.options.host + "]" : s.options.host;
  return fmt::format("{}://{}:{}", s.server->tls() ? "https" : "http", host, s.server->port());
}

StepResult Listen(Startup& s) {
  auto observer = [&telemetry = s.telemetry](const http::RequestLogEntry& e) {
    telemetry.OnRequest(e);
  };
  auto server = http::HttpServer::Create(s.options, s.router, observer);
  if (!server.has_value()) {
    if (server.error().code() == StatusCode::kInvalidArgument) {  // TLS files at fault
      return std::unexpected(Usage(server.error()));
    }
    return std::unexpected(
        Failure{kExitError,
                fmt::format("cannot listen on {}: {}", s.config.listen, server.error().message())});
  }
  s.server = std::move(*server);
  s.telemetry.WatchServer(*s.server);
  if (s.gate != nullptr) {
    s.gate->SetListeningUrl(ListeningUrl(s));
  } else {
    s.services->SetListeningUrl(ListeningUrl(s));
  }
  return {};
}

// A startup step: fills in its part of `s`, or says why the server cannot start.
using StartupStep = StepResult (*)(Startup& s);

constexpr StartupStep kSteps[] = {
    CheckConfig,          // every value within its bound; logging as configured
    CheckListenAddress,   // --listen parses; plain HTTP stays on loopback unless allowed
    SetServerOptions,     // threads, limits, timeouts, TLS files
    LoadRootKey,          // from the key file or COFFER_ROOT_KEY
    LockTheStore,         // a SQLite store has one server
    OpenTheStore,         // migrated, initialized, its keyring read
    UnwrapKeyring,        // the root key wiped after
    ParseTrustedProxies,  // --trusted-proxies
    WireServices,         // telemetry, services, routes
    Listen,               // the socket bound, the TLS files read
};

// Serves until SIGTERM/SIGINT, then shuts down in the order the store needs. The server's
// failure, if it stopped on one.
Status Serve(Startup& s) {
  fmt::print("coffer listening on {}\n", ListeningUrl(s));
  std::fflush(stdout);
  spdlog::info("at most {} connections at once, {} per client address", s.server->max_connections(),
               s.options.max_connections_per_address == 0
                   ? std::string("any number")
                   : std::to_string(s.options.max_connections_per_address));
  Status run = s.server->Run();
  s.server.reset();
  if (s.gate != nullptr) {
    s.gate->Stop();
  } else {
    s.services->Stop();
  }
  s.store.clock.reset();  // it may read the store
  s.store.store.reset();  // drains pending writes and closes the database cleanly
  return run;
}

// The one place a failure becomes output: "error: …" (and "hint: …") on stderr, and the exit
// code.
int Report(const Failure& f) {
  if (!f.message.empty()) fmt::print(stderr, "error: {}\n", f.message);
  if (!f.hint.empty()) fmt::print(stderr, "hint: {}\n", f.hint);
  return f.exit_code;
}

}  // namespace

int RunServer(const ServerConfig& config) {
  if (Status dumps = DisableCoreDumps(); !dumps.ok()) {
    return Report({kExitError, dumps.message() + "; refusing to start"});
  }
  Startup s(config);
  for (const StartupStep& step : kSteps) {
    if (StepResult r = step(s); !r.has_value()) return Report(r.error());
  }
  if (Status run = Serve(s); !run.ok()) return Report({kExitError, run.ToString()});
  spdlog::info("coffer stopped");
  return kExitOk;
}

}  // namespace coffer::server
