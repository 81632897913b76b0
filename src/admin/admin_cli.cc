// AdminCli: the rows of the offline commands, with their help.
#include "admin/admin_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "admin/offline_command.h"
#include "common/exit_codes.h"
#include "common/process_limits.h"
#include "server/store_options.h"

namespace coffer::admin {

AdminCli::AdminCli(std::function<void(CLI::App&)> add_store_options)
    : registry_(std::make_unique<OfflineRegistry>()) {
  registry_->add_store_options = std::move(add_store_options);
}

AdminCli::~AdminCli() = default;

void AdminCli::AddInit(CLI::App& app) {
  CLI::App* init =
      app.add_subcommand("init", "Create a data directory and the first admin API key");
  registry_->add_store_options(*init);
  init->add_option("--unseal-shares", unseal_shares_,
                   "Split the root key into this many unseal shares (2-255) instead of writing "
                   "it to a file; the server then starts sealed")
      ->check(CLI::Range(2, 255));
  init->add_option("--unseal-threshold", unseal_threshold_,
                   "How many of the unseal shares open the server (2 to --unseal-shares)")
      ->check(CLI::Range(2, 255));
  init->footer(
      "Example:\n  coffer init --data-dir ./coffer-data\n"
      "  coffer init --data-dir ./coffer-data --unseal-shares 5 --unseal-threshold 3");
  init->callback([this] {
    registry_->action = [this](const ServerConfig& config) {
      return RunInit(config, UnsealSplit{.shares = unseal_shares_, .threshold = unseal_threshold_});
    };
  });
}

void AdminCli::AddBackup(CLI::App& app) {
  CLI::App* backup = app.add_subcommand(
      "backup", "Copy the embedded store to a new file (safe while the server runs)");
  registry_->add_store_options(*backup);
  backup->add_option("--out", backup_out_, "The backup file to create (must not exist)")
      ->required();
  backup->footer(
      "Example:\n  coffer backup --data-dir /var/lib/coffer --out /backup/coffer-$(date +%F).db\n"
      "The root key is not included: back up <data-dir>/root.key separately.");
  backup->callback([this] {
    registry_->action = [this](const ServerConfig& config) {
      return RunBackup(config, backup_out_);
    };
  });
}

void AdminCli::AddMigrate(CLI::App& app) {
  CLI::App* migrate = app.add_subcommand(
      "migrate", "Copy every record of one store into a new, empty one and verify the copy");
  const CLI::Validator no_password = server::NoPasswordInArgv("~/.pgpass or PGPASSFILE");
  migrate->add_option("--from", migrate_from_, "Source store: sqlite:PATH or postgres://…")
      ->required()
      ->check(no_password);
  migrate->add_option("--to", migrate_to_, "Target store (empty): postgres://… or sqlite:PATH")
      ->required()
      ->check(no_password);
  migrate->footer(
      "Example (stop the server first; keep the same root key file):\n"
      "  coffer migrate --from sqlite:./coffer-data/coffer.db \\\n"
      "                 --to postgres://coffer@db.internal/coffer");
  migrate->callback([this] {
    registry_->action = [this](const ServerConfig&) {
      return RunMigrate(migrate_from_, migrate_to_);
    };
  });
}

void AdminCli::AddKeys(CLI::App& app) { AddKeysCommand(app, *registry_); }

void AdminCli::AddAdmin(CLI::App& app) { AddAdminCommand(app, *registry_); }

bool AdminCli::selected() const { return static_cast<bool>(registry_->action); }

int AdminCli::Run(const server::ServerConfig& config) {
  if (Status s = DisableCoreDumps(); !s.ok()) {
    fmt::print(stderr, "error: {}; refusing to run\n", s.message());
    return kExitError;
  }
  return registry_->action(config);
}

}  // namespace coffer::admin
