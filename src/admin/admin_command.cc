// `coffer admin recover`: checks the root key against the store's keyring before touching
// anything, then mints a new API key for the admin user together with an `admin.recovered` audit
// event (service/auth_service.h, RecoverAdminAccess) and prints the key once.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <variant>

#include "admin/offline_command.h"
#include "common/exit_codes.h"
#include "common/random.h"
#include "crypto/key_provider.h"
#include "crypto/keyring.h"
#include "server/store_factory.h"
#include "service/auth_service.h"

namespace coffer::admin {

using server::InitializedStore;
using server::IsPostgresStore;
using server::OpenInitializedStore;
using server::RootKeyProviderFor;

namespace {

int RunRecover(const ServerConfig& config) {
  if (!IsPostgresStore(config) && !std::filesystem::exists(config.StorePath())) {
    // Opening would create an empty store there.
    fmt::print(stderr, "error: there is no store at {}; nothing was changed\n", config.StorePath());
    return kExitError;
  }
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  auto& [store, keys] = std::get<InitializedStore>(opened);
  auto provider = RootKeyProviderFor(config);
  if (!provider.has_value()) {
    fmt::print(stderr, "error: {}; nothing was changed\n", provider.error().message());
    return kExitError;
  }
  SystemRandom random;
  auto root_key = (*provider)->OpenRootKey(random);
  if (!root_key.has_value()) {
    fmt::print(stderr, "error: cannot load the root key from {}: {}; nothing was changed\n",
               (*provider)->Describe(), root_key.error().message());
    return kExitError;
  }
  // Only the holder of this store's root key may mint an admin key: the keyring must unwrap.
  auto keyring = Keyring::Unwrap(keys, **root_key, random);
  root_key->reset();
  if (!keyring.has_value()) {
    fmt::print(stderr, "error: {} ({}); nothing was changed\n", keyring.error().message(),
               (*provider)->Describe());
    return kExitError;
  }
  auto recovered = RecoverAdminAccess(*store.store, **keyring, *store.clock, "recovered admin key");
  if (!recovered.has_value()) {
    fmt::print(stderr, "error: cannot recover admin access: {}\n", recovered.error().ToString());
    return kExitError;
  }
  fmt::print(
      "Admin access recovered for user {} ({}) on {}.\n"
      "The audit trail records it as admin.recovered (actor system/offline).\n"
      "\n"
      "New admin API key (shown only this once; store it somewhere safe):\n"
      "\n"
      "  {}\n"
      "\n",
      recovered->admin.name, recovered->admin.id, store.description, recovered->api_key.view());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void AddAdminCommand(CLI::App& app, OfflineRegistry& registry) {
  CLI::App* admin =
      app.add_subcommand("admin", "Offline administration on the store (root key needed)");
  admin->require_subcommand(1);
  CLI::App* recover = admin->add_subcommand(
      "recover", "Mint a new admin API key when no admin key works (audited; root key needed)");
  registry.add_store_options(*recover);
  recover->footer(
      "Checks the root key (root.key in --data-dir, --root-key-file or COFFER_ROOT_KEY) against\n"
      "the store's keyring, then adds an API key to the admin user, prints it once and records\n"
      "`admin.recovered` in the audit trail. Servers may keep running.\n"
      "Example:\n  sudo -u coffer coffer admin recover --data-dir /var/lib/coffer");
  recover->callback([&registry] { registry.action = RunRecover; });
}

}  // namespace coffer::admin
