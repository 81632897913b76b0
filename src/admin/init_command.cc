// `coffer init`: a new data directory with its root key, keyring and first admin API key.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <variant>

#include "admin/offline_command.h"
#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/random.h"
#include "crypto/key_provider.h"
#include "crypto/pkcs11_key_provider.h"
#include "server/store_factory.h"
#include "service/auth_service.h"

namespace coffer::admin {

using server::InitializedStore;
using server::IsPostgresStore;
using server::OpenStoreAndKeyring;

int RunInit(const ServerConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    fmt::print(stderr, "error: cannot create data directory {}: {}\n", config.data_dir,
               ec.message());
    return kExitError;
  }
  ::chmod(config.data_dir.c_str(), 0700);

  SystemRandom random;
  std::string key_file = config.RootKeyFile();
  const bool pkcs11 = config.root_key_uri.starts_with("pkcs11:");
  if (config.root_key_uri.starts_with("file:")) {
    key_file = config.root_key_uri.substr(5);
    if (key_file.starts_with("//")) key_file = key_file.substr(2);
  }
  auto opened = OpenStoreAndKeyring(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  auto& [store, keys] = std::get<InitializedStore>(opened);
  if (!keys.empty()) {
    fmt::print(stderr,
               "error: {} is already initialized (its admin API key was printed by the first "
               "init; nothing was changed)\n",
               IsPostgresStore(config) ? store.description : config.data_dir);
    return kExitError;
  }
  std::unique_ptr<KeyProvider> provider;
  if (pkcs11) {
    // The key is generated in the token, or the token's key of that label is used.
    auto uri = ParsePkcs11Uri(config.root_key_uri);
    if (!uri.has_value()) {
      fmt::print(stderr, "error: {}\n", uri.error().message());
      return kExitUsage;
    }
    provider = NewPkcs11KeyProvider(std::move(*uri), Pkcs11Options{.create_if_missing = true});
  } else {
    // A key file left by an init that failed half-way is reused; otherwise a fresh one is made.
    Status created = CreateRootKeyFile(key_file, random);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) {
      fmt::print(stderr, "error: cannot create root key file {}: {}\n", key_file,
                 created.message());
      return kExitError;
    }
    provider = NewFileKeyProvider(key_file);
  }
  auto root_key = provider->OpenRootKey(random);
  if (!root_key.has_value()) {
    fmt::print(stderr, "error: {}\n", root_key.error().message());
    return kExitError;
  }
  auto result = InitializeStore(*store.store, **root_key, random, *store.clock);
  if (!result.has_value()) {
    fmt::print(stderr, "error: cannot initialize the store: {}\n", result.error().ToString());
    return kExitError;
  }
  fmt::print(
      "Initialized Coffer data directory {}\n"
      "  root key:  {}\n"
      "  store:     {}\n"
      "\n"
      "Admin API key (shown only this once; store it somewhere safe):\n"
      "\n"
      "  {}\n"
      "\n",
      config.data_dir,
      pkcs11
          ? fmt::format("{} (generated in the token; it never leaves it)", (*root_key)->Describe())
          : fmt::format("{} (mode 0600; back it up: without it nothing stored can be "
                        "decrypted)",
                        key_file),
      store.description, result->api_key.view());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace coffer::admin
