// coffer: one binary for the server side (init, server) and, later, the client commands.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/admin_command.h"
#include "cli/client_cli.h"
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/keys_command.h"
#include "cli/migrate_command.h"
#include "cli/option_bounds.h"
#include "cli/store_factory.h"

namespace {

// The commands that read the server's configuration (the TOML file, the server's COFFER_*
// variables); client commands such as `secrets get` and `run` never do.
bool UsesServerConfig(std::string_view command) {
  return command == "init" || command == "server" || command == "backup" || command == "keys" ||
         command == "admin";
}

// The TOML file is read before flags are parsed so that flags and COFFER_* variables override
// it: --config PATH / --config=PATH on the command line, else COFFER_CONFIG; only for the
// commands that use it. Nothing after `--` is coffer's.
std::string FindConfigPath(int argc, char** argv) {
  if (argc < 2 || !UsesServerConfig(argv[1])) return "";
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--config" && i + 1 < argc) return argv[i + 1];
    if (arg.starts_with("--config=")) return arg.substr(9);
  }
  const char* env = std::getenv("COFFER_CONFIG");
  return env != nullptr ? env : "";
}

// Refuses a store URL with a password on the command line, where every local user sees it
// (ps, /proc/PID/cmdline). The message never repeats the URL.
CLI::Validator NoPasswordInArgv(std::string where_instead) {
  return CLI::Validator(
      [where_instead](const std::string& url) -> std::string {
        if (!coffer::cli::StoreUrlHasPassword(url)) return "";
        return "the URL holds a password, which every local user can read in the process list; "
               "leave it out and give it in " +
               where_instead;
      },
      "URL");
}

void AddServerOptions(CLI::App& cmd, coffer::cli::ServerConfig& c, std::string& config_path,
                      std::string& store_flag) {
  cmd.add_option("--config", config_path, "TOML config file (keys as the long flags, with '_')")
      ->envname("COFFER_CONFIG");
  cmd.add_option("--data-dir", c.data_dir, "Data directory (root key, embedded store)")
      ->envname("COFFER_DATA_DIR")
      ->capture_default_str();
  // No envname: COFFER_STORE is applied after parsing, as only the flag is refused a password.
  cmd.add_option("--store", store_flag,
                 "Store: sqlite:PATH (default <data-dir>/coffer.db) or postgres://USER@HOST/DB "
                 "(env COFFER_STORE). Never a password here: use ~/.pgpass, PGPASSFILE, "
                 "COFFER_STORE or the config file")
      ->check(NoPasswordInArgv(
          "~/.pgpass or PGPASSFILE, or pass the whole URL in COFFER_STORE or the config file's "
          "store key"));
  cmd.add_option("--root-key-file", c.root_key_file, "Root key file (default <data-dir>/root.key)")
      ->envname("COFFER_ROOT_KEY_FILE");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace coffer::cli;
  ServerConfig config;
  const std::string config_path = FindConfigPath(argc, argv);
  if (!config_path.empty()) {
    if (coffer::Status s = LoadTomlConfig(config_path, config); !s.ok()) {
      fmt::print(stderr, "error: {}\n", s.message());
      return kExitUsage;
    }
  }
  std::string ignored_config;
  std::string store_flag;

  CLI::App app{"Coffer: a secrets vault for AI agents and the people who run them"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  coffer init --data-dir ./coffer-data\n"
      "  coffer server --data-dir ./coffer-data --listen 127.0.0.1:8200");

  CLI::App* init = app.add_subcommand("init", "Create a data directory and the first admin API key");
  AddServerOptions(*init, config, ignored_config, store_flag);
  init->footer("Example:\n  coffer init --data-dir ./coffer-data");

  CLI::App* server = app.add_subcommand("server", "Serve the HTTP API");
  AddServerOptions(*server, config, ignored_config, store_flag);
  server->add_option("--listen", config.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->envname("COFFER_LISTEN")
      ->capture_default_str();
  // Every number is checked against its bound (cli/option_bounds.h), from the flag or the
  // COFFER_* variable alike; the TOML file's values were checked as it was read.
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
  server->add_option("--first-request-timeout-ms", config.first_request_timeout_ms,
                     "Time a new connection has to send its first request header")
      ->envname("COFFER_FIRST_REQUEST_TIMEOUT_MS")
      ->check(IntegerOption("first_request_timeout_ms"))
      ->capture_default_str();
  server->add_option("--max-connections-per-address", config.max_connections_per_address,
                     "Connections open at once from one client address (0: no limit; raise it "
                     "behind a reverse proxy)")
      ->envname("COFFER_MAX_CONNECTIONS_PER_ADDRESS")
      ->check(IntegerOption("max_connections_per_address"))
      ->capture_default_str();
  server->add_option("--max-connections", config.max_connections,
                     "Connections open at once in all (0: the open-file limit less a reserve)")
      ->envname("COFFER_MAX_CONNECTIONS")
      ->check(IntegerOption("max_connections"))
      ->capture_default_str();
  server->add_option("--token-ttl-seconds", config.token_ttl_seconds, "Lifetime of issued JWTs")
      ->envname("COFFER_TOKEN_TTL_SECONDS")
      ->check(IntegerOption("token_ttl_seconds"))
      ->capture_default_str();
  server->add_option("--auth-failure-burst", config.auth_failure_burst,
                     "Failed authentications a client address may make at once before 429")
      ->envname("COFFER_AUTH_FAILURE_BURST")
      ->check(IntegerOption("auth_failure_burst"))
      ->capture_default_str();
  server->add_option("--auth-failures-per-minute", config.auth_failures_per_minute,
                     "Further failed authentications allowed per client address and minute")
      ->envname("COFFER_AUTH_FAILURES_PER_MINUTE")
      ->check(IntegerOption("auth_failures_per_minute"))
      ->capture_default_str();
  server->add_option("--log-level", config.log_level, "trace, debug, info, warn, error, off")
      ->envname("COFFER_LOG_LEVEL")
      ->transform(LogLevelOption())
      ->capture_default_str();
  server->add_option("--trusted-proxies", config.trusted_proxies,
                     "Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed")
      ->envname("COFFER_TRUSTED_PROXIES");
  server->add_option("--tls-cert", config.tls_cert,
                     "PEM certificate chain: serve HTTPS (with --tls-key; reloaded on SIGHUP)")
      ->envname("COFFER_TLS_CERT");
  server->add_option("--tls-key", config.tls_key, "PEM private key of --tls-cert")
      ->envname("COFFER_TLS_KEY");
  server->add_flag("--insecure-listen", config.insecure_listen,
                   "Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy)")
      ->envname("COFFER_INSECURE_LISTEN");
  server->footer("Example:\n  coffer server --data-dir ./coffer-data --listen 127.0.0.1:8200");

  std::string backup_out;
  CLI::App* backup = app.add_subcommand(
      "backup", "Copy the embedded store to a new file (safe while the server runs)");
  AddServerOptions(*backup, config, ignored_config, store_flag);
  backup->add_option("--out", backup_out, "The backup file to create (must not exist)")
      ->required();
  backup->footer(
      "Example:\n  coffer backup --data-dir /var/lib/coffer --out /backup/coffer-$(date +%F).db\n"
      "The root key is not included: back up <data-dir>/root.key separately.");

  std::string migrate_from;
  std::string migrate_to;
  CLI::App* migrate = app.add_subcommand(
      "migrate", "Copy every record of one store into a new, empty one and verify the copy");
  const CLI::Validator no_password = NoPasswordInArgv("~/.pgpass or PGPASSFILE");
  migrate->add_option("--from", migrate_from, "Source store: sqlite:PATH or postgres://…")
      ->required()
      ->check(no_password);
  migrate->add_option("--to", migrate_to, "Target store (empty): postgres://… or sqlite:PATH")
      ->required()
      ->check(no_password);
  migrate->footer(
      "Example (stop the server first; keep the same root key file):\n"
      "  coffer migrate --from sqlite:./coffer-data/coffer.db \\\n"
      "                 --to postgres://coffer@db.internal/coffer");

  app.add_subcommand("version", "Print the version")->callback([] {
    fmt::print("coffer 0.1.0\n");
  });

  KeysCli keys_cli(
      app, [&](CLI::App& cmd) { AddServerOptions(cmd, config, ignored_config, store_flag); });
  AdminCli admin_cli(
      app, [&](CLI::App& cmd) { AddServerOptions(cmd, config, ignored_config, store_flag); });

  ClientCli client_cli(app);  // login, vaults, secrets, agents, policies, audit, run, mcp

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  // --store wins over COFFER_STORE, which wins over the config file.
  if (!store_flag.empty()) {
    config.store = store_flag;
  } else if (const char* env = std::getenv("COFFER_STORE"); env != nullptr && *env != '\0') {
    config.store = env;
  }
  if (init->parsed()) return RunInit(config);
  if (server->parsed()) return RunServer(config);
  if (migrate->parsed()) return RunMigrate(migrate_from, migrate_to);
  if (backup->parsed()) return RunBackup(config, backup_out);
  if (keys_cli.selected()) return keys_cli.Run(config);
  if (admin_cli.selected()) return admin_cli.Run(config);
  if (client_cli.selected()) return client_cli.Run();
  return kExitOk;
}
