// `coffer init`: a new data directory with its root key (or the root key split into unseal
// shares), keyring and first admin API key.
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
#include "crypto/shamir.h"
#include "server/seal_config.h"
#include "server/store_factory.h"
#include "service/auth_service.h"

namespace coffer::admin {

using server::InitializedStore;
using server::IsPostgresStore;
using server::OpenStoreAndKeyring;

namespace {

// The root key when it is split: generated here, never written; its shares, printable.
struct SplitRootKey {
  std::shared_ptr<RootKey> root_key;
  std::vector<SecretBuffer> shares;
};

// A usage error in --unseal-shares / --unseal-threshold, or "" when they are fine.
std::string CheckSplit(const ServerConfig& config, const UnsealSplit& split) {
  if (split.shares == 0 && split.threshold == 0) return "";
  if (split.shares == 0 || split.threshold == 0) {
    return "--unseal-shares and --unseal-threshold go together";
  }
  if (split.threshold > split.shares) {
    return fmt::format("--unseal-threshold ({}) must not exceed --unseal-shares ({})",
                       split.threshold, split.shares);
  }
  if (server::NamesRootKey(config)) {
    return "--unseal-shares replaces the root key file: give no --root-key-uri, "
           "--root-key-file or COFFER_ROOT_KEY with it";
  }
  if (::access(config.RootKeyFile().c_str(), F_OK) == 0) {
    return fmt::format("{} exists: this data directory keeps its root key in a file",
                       config.RootKeyFile());
  }
  return "";
}

// A fresh root key split into shares; unseal.json written (it names the split, no secret).
StatusOr<SplitRootKey> SplitNewRootKey(const ServerConfig& config, const UnsealSplit& split,
                                       Random& random) {
  SecretBuffer key(kRootKeySize);
  RETURN_IF_ERROR(random.Fill({key.data(), key.size()}));
  server::SealConfig seal{.shares = split.shares, .threshold = split.threshold};
  RETURN_IF_ERROR(random.Fill(seal.split_id));
  ASSIGN_OR_RETURN(std::vector<ShamirShare> shares,
                   ShamirSplit(key, split.shares, split.threshold, random));
  RETURN_IF_ERROR(server::WriteSealConfig(server::SealConfigPath(config), seal));
  SplitRootKey out;
  for (const ShamirShare& share : shares) {
    out.shares.push_back(EncodeUnsealShare(seal.split_id, share));
  }
  out.root_key = NewBytesRootKey(std::move(key), random, "the root key split into unseal shares");
  return out;
}

void PrintShares(const UnsealSplit& split, const std::vector<SecretBuffer>& shares) {
  fmt::print(
      "Unseal shares: the root key is split into {} shares, any {} of which unseal the server.\n"
      "It is not stored anywhere. Store these separately (one per key holder); you will not see\n"
      "them again, and with fewer than {} of them nothing stored can ever be read.\n\n",
      split.shares, split.threshold, split.threshold);
  for (const SecretBuffer& share : shares) fmt::print("  {}\n", share.view());
  fmt::print("\nThe server starts sealed: unseal it with `coffer operator unseal` ({} times).\n\n",
             split.threshold);
}

}  // namespace

int RunInit(const ServerConfig& config, const UnsealSplit& split) {
  if (const std::string usage = CheckSplit(config, split); !usage.empty()) {
    fmt::print(stderr, "error: {}\n", usage);
    return kExitUsage;
  }
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
  std::optional<SplitRootKey> split_root;
  if (split.shares > 0) {
    auto made = SplitNewRootKey(config, split, random);
    if (!made.has_value()) {
      fmt::print(stderr, "error: {}\n", made.error().message());
      return kExitError;
    }
    split_root = std::move(*made);
  } else if (pkcs11) {
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
  auto root_key = split_root.has_value() ? StatusOr<std::shared_ptr<RootKey>>(split_root->root_key)
                                         : provider->OpenRootKey(random);
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
      split_root.has_value()
          ? fmt::format("split into {} unseal shares, {} to unseal (not stored: {} says how)",
                        split.shares, split.threshold, server::SealConfigPath(config))
      : pkcs11
          ? fmt::format("{} (generated in the token; it never leaves it)", (*root_key)->Describe())
          : fmt::format("{} (mode 0600; back it up: without it nothing stored can be "
                        "decrypted)",
                        key_file),
      store.description, result->api_key.view());
  if (split_root.has_value()) PrintShares(split, split_root->shares);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace coffer::admin
