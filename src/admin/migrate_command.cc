// coffer migrate: opens both stores through OpenStore and runs CopyStore.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "admin/offline_command.h"
#include "common/exit_codes.h"
#include "server/store_factory.h"
#include "store/store_copy.h"

namespace coffer::admin {

using server::IsPostgresStore;
using server::LockStore;
using server::OpenStore;
using server::StoreDescription;

namespace {

std::string Hex(const Sha256Digest& digest) {
  std::string out;
  for (const uint8_t b : digest) {
    out += fmt::format("{:02x}", b);
  }
  return out;
}

}  // namespace

int RunMigrate(const std::string& from, const std::string& to) {
  ServerConfig source_config;
  source_config.store = from;
  ServerConfig target_config;
  target_config.store = to;
  if (from.empty() || to.empty()) {
    fmt::print(stderr, "error: --from and --to are both required\n");
    return kExitUsage;
  }
  if (!IsPostgresStore(source_config) && !std::filesystem::exists(source_config.StorePath())) {
    fmt::print(stderr, "error: the source store {} does not exist\n", source_config.StorePath());
    return kExitUsage;
  }
  if (StoreDescription(source_config) == StoreDescription(target_config)) {
    fmt::print(stderr, "error: --from and --to name the same store\n");
    return kExitUsage;
  }
  // Nothing may write to either end during the copy: a SQLite store a server owns is refused.
  // (A PostgreSQL source must have its servers stopped by hand, docs/multi-node.md.)
  std::vector<std::unique_ptr<SqliteStoreLock>> locks;
  for (const ServerConfig* end : {&source_config, &target_config}) {
    auto lock = LockStore(*end, "coffer migrate");
    if (!lock.has_value()) {
      fmt::print(stderr, "error: {}{}\n", lock.error().message(),
                 lock.error().code() == StatusCode::kFailedPrecondition
                     ? "; stop it first (nothing may write to the stores during the copy)"
                     : "");
      return kExitError;
    }
    locks.push_back(std::move(*lock));
  }
  auto source = OpenStore(source_config);
  if (!source.has_value()) {
    fmt::print(stderr, "error: cannot open the source store {}: {}\n",
               StoreDescription(source_config), source.error().ToString());
    return kExitError;
  }
  auto target = OpenStore(target_config);
  if (!target.has_value()) {
    fmt::print(stderr, "error: cannot open the target store {}: {}\n",
               StoreDescription(target_config), target.error().ToString());
    return kExitError;
  }
  fmt::print("migrating {} -> {}\n", source->description, target->description);
  auto report = CopyStore(*source->store, *target->store, [](std::string_view what) {
    fmt::print("  copying {}\n", what);
    std::fflush(stdout);
  });
  if (!report.has_value()) {
    fmt::print(stderr, "error: {}\n", report.error().message());
    return kExitError;
  }
  fmt::print(
      "done, and verified: {} keys, {} users, {} agents, {} credentials, {} vaults, {} policies, "
      "{} secrets with {} versions (ciphertexts identical), {} rotation schedules, {} webhook "
      "endpoints, {} gateway bindings, {} audit events (chain intact, head {})\n"
      "Start the servers with --store {} and the same root key file.\n",
      report->keys, report->users, report->agents, report->credentials, report->vaults,
      report->policies, report->secrets, report->versions, report->schedules, report->webhooks,
      report->bindings, report->audit_events, Hex(report->audit_head), target->description);
  return kExitOk;
}

}  // namespace coffer::admin
