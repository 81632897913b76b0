// `coffer keys`: show, rotate, re-encrypt under and retire data keys, and rotate the token
// signing key. Runs against the store
// directly (like init and backup), with the root key; running servers notice a new or retired
// key within kKeyringRefreshInterval, and at once when a read names a key they do not hold.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "admin/keys_support.h"
#include "admin/offline_command.h"
#include "common/exit_codes.h"
#include "common/ids.h"
#include "common/option_bounds.h"
#include "common/random.h"
#include "common/time_format.h"
#include "crypto/key_provider.h"
#include "crypto/keyring.h"
#include "crypto/pkcs11_key_provider.h"
#include "server/store_factory.h"
#include "service/auth_service.h"
#include "service/keyring_refresher.h"
#include "service/reencrypt.h"

namespace coffer::admin {

using server::InitializedStore;
using server::OpenInitializedStore;
using server::RootKeyProviderFor;

namespace {

// A retired key must have been out of use by every running server for this long: they switch
// to a new key within one refresh interval, and writes already sealed commit soon after.
constexpr auto kRetireGrace = 3 * kKeyringRefreshInterval;

// The root key `provider` gives, or null after printing why not.
std::shared_ptr<RootKey> OpenRootKey(StatusOr<std::unique_ptr<KeyProvider>> provider,
                                     Random& random) {
  if (!provider.has_value()) {
    fmt::print(stderr, "error: {}\n", provider.error().message());
    return nullptr;
  }
  auto root_key = (*provider)->OpenRootKey(random);
  if (!root_key.has_value()) {
    fmt::print(stderr, "error: cannot load the root key from {}: {}\n", (*provider)->Describe(),
               root_key.error().message());
    return nullptr;
  }
  return std::move(*root_key);
}

}  // namespace

std::variant<UnlockedStore, int> OpenUnlocked(const ServerConfig& config, Random& random) {
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  std::shared_ptr<RootKey> root_key = OpenRootKey(RootKeyProviderFor(config), random);
  if (root_key == nullptr) return kExitError;
  auto ring = Keyring::Unwrap(std::get<InitializedStore>(opened).keys, *root_key, random);
  if (!ring.has_value()) {
    fmt::print(stderr, "error: {}\n", ring.error().message());
    return kExitError;
  }
  return UnlockedStore{std::move(std::get<InitializedStore>(opened)), std::move(*ring),
                       std::move(root_key)};
}

std::string KeyPath(uint32_t key_id, std::string_view purpose) {
  return fmt::format("keyring/{}/{}", purpose, key_id);
}

void Audit(Store& store, const Clock& clock, std::string_view action, std::string path) {
  AuditEvent event;
  event.at = clock.Now();
  event.request_id = "cli-" + NewUuid();
  event.actor_kind = "anonymous";
  event.action = std::string(action);
  event.path = std::move(path);
  event.client_ip = "local";
  event.outcome = "success";
  event.status = "OK";
  if (auto appended = store.AppendAudit(event); !appended.has_value()) {
    fmt::print(stderr, "warning: the audit event {} could not be written: {}\n", action,
               appended.error().message());
  }
}

int CheckBatchSize(size_t batch_size) {
  if (Status s = CheckInteger(IntegerBoundOf("batch_size"),
                              static_cast<int64_t>(std::min<size_t>(batch_size, INT64_MAX)));
      !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return kExitUsage;
  }
  return kExitOk;
}

namespace {

int RunStatus(const ServerConfig& config) {
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  InitializedStore& o = std::get<InitializedStore>(opened);
  auto counts = o.store.store->CountCiphertextsByKey();
  if (!counts.has_value()) {
    fmt::print(stderr, "error: {}\n", counts.error().ToString());
    return kExitError;
  }
  fmt::print("{:<8} {:<8} {:<28} {}\n", "KEY ID", "STATE", "CREATED", "SECRET VERSIONS");
  for (const WrappedKey& key : o.keys) {
    if (key.purpose != kKeyPurposeData) continue;
    const auto it = counts->find(key.id);
    fmt::print("{:<8} {:<8} {:<28} {}\n", key.id, key.active ? "active" : "old",
               FormatRfc3339(key.created_at), it == counts->end() ? 0 : it->second);
    counts->erase(key.id);
  }
  for (const auto& [id, count] : *counts) {
    // Versions naming a key the keyring does not hold: damaged, or a retired key's.
    fmt::print("{:<8} {:<8} {:<28} {}\n", id == kUnreadableKeyId ? "-" : std::to_string(id),
               "missing", "-", count);
  }
  return kExitOk;
}

int RunRotate(const ServerConfig& config) {
  SystemRandom random;
  auto unlocked = OpenUnlocked(config, random);
  if (std::holds_alternative<int>(unlocked)) return std::get<int>(unlocked);
  auto& [o, ring, root_key] = std::get<UnlockedStore>(unlocked);
  uint32_t next_id = 1;
  uint32_t previous = 0;
  for (const WrappedKey& key : o.keys) {
    next_id = std::max(next_id, key.id + 1);
    if (key.purpose == kKeyPurposeData && key.active) previous = key.id;
  }
  auto key = Keyring::CreateKey(*root_key, next_id, kKeyPurposeData, random, o.store.clock->Now());
  root_key.reset();
  if (!key.has_value()) {
    fmt::print(stderr, "error: {}\n", key.error().message());
    return kExitError;
  }
  if (Status s = o.store.store->InsertKey(*key); !s.ok()) {
    fmt::print(stderr, "error: cannot store the new data key: {}{}\n", s.message(),
               s.code() == StatusCode::kAlreadyExists ? " (another rotation ran; try again)" : "");
    return kExitError;
  }
  Audit(*o.store.store, *o.store.clock, "keys.rotate", KeyPath(next_id));
  fmt::print(
      "Data key {} is now active for new writes (data key {} stays readable).\n"
      "Running servers switch to it within {} s. Next: `coffer keys reencrypt` to move existing\n"
      "values to it, then `coffer keys retire --key-id {}`.\n",
      next_id, previous, kKeyringRefreshInterval.count(), previous);
  return kExitOk;
}

int RunReencrypt(const ServerConfig& config, size_t batch_size) {
  if (const int bad = CheckBatchSize(batch_size); bad != kExitOk) return bad;
  SystemRandom random;
  auto unlocked = OpenUnlocked(config, random);
  if (std::holds_alternative<int>(unlocked)) return std::get<int>(unlocked);
  auto& [o, ring, root_key] = std::get<UnlockedStore>(unlocked);
  root_key.reset();
  ReencryptOptions options;
  options.batch_size = batch_size;
  options.on_batch = [](const ReencryptProgress& p) {
    fmt::print("reencrypt: {} moved, {} left\n", p.moved, p.left);
    std::fflush(stdout);
  };
  options.on_damaged = [](const DamagedVersion& d) {
    if (!d.webhook_id.empty()) {
      fmt::print(stderr,
                 "damaged: vault {} webhook {} signing secret (names data key {}) does not "
                 "decrypt; left as it is\n",
                 d.vault_id, d.webhook_id,
                 d.key_id == kUnreadableKeyId ? std::string("-") : std::to_string(d.key_id));
      return;
    }
    fmt::print(stderr,
               "damaged: vault {} path {} version {} (names data key {}) does not decrypt; "
               "left as it is\n",
               d.vault_id, d.path, d.version,
               d.key_id == kUnreadableKeyId ? std::string("-") : std::to_string(d.key_id));
  };
  auto result = ReencryptAll(*o.store.store, *ring, options);
  if (!result.has_value()) {
    fmt::print(stderr,
               "error: re-encryption stopped: {} (what was done is kept; run it again to "
               "resume)\n",
               result.error().ToString());
    return kExitError;
  }
  Audit(*o.store.store, *o.store.clock, "keys.reencrypt", KeyPath(result->target_key_id));
  fmt::print(
      "Re-encrypted {} secret versions under data key {}; {} changed meanwhile, {} do not "
      "decrypt, {} not under data key {}.\n",
      result->moved, result->target_key_id, result->skipped, result->failed, result->left,
      result->target_key_id);
  if (result->left > 0) {
    fmt::print(stderr,
               "error: {} secret versions are not under data key {} yet (written meanwhile by a "
               "server that had not switched yet, or damaged): run it again\n",
               result->left, result->target_key_id);
    return kExitError;
  }
  return kExitOk;
}

int RunRetire(const ServerConfig& config, uint32_t key_id) {
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  InitializedStore& o = std::get<InitializedStore>(opened);
  const WrappedKey* retired = nullptr;
  UnixMicros newest_active_since = 0;
  for (const WrappedKey& key : o.keys) {
    if (key.purpose != kKeyPurposeData) continue;
    if (key.id == key_id) retired = &key;
    if (key.active) newest_active_since = key.created_at;
  }
  if (retired == nullptr) {
    fmt::print(stderr, "error: there is no data key {}\n", key_id);
    return kExitError;
  }
  if (retired->active) {
    fmt::print(stderr, "error: data key {} is the active key; run `coffer keys rotate` first\n",
               key_id);
    return kExitError;
  }
  const UnixMicros grace =
      std::chrono::duration_cast<std::chrono::microseconds>(kRetireGrace).count();
  const UnixMicros since = o.store.clock->Now() - newest_active_since;
  if (since < grace) {
    fmt::print(stderr,
               "error: the rotation is {} ms old; a running server may still be writing under "
               "data key {}: try again in {} ms\n",
               since / 1000, key_id, (grace - since) / 1000 + 1);
    return kExitError;
  }
  if (Status s = o.store.store->DeleteDataKey(key_id); !s.ok()) {
    fmt::print(stderr, "error: cannot retire data key {}: {}\n", key_id, s.message());
    return kExitError;
  }
  Audit(*o.store.store, *o.store.clock, "keys.retire", KeyPath(key_id));
  fmt::print("Data key {} is retired (deleted from the keyring).\n", key_id);
  return kExitOk;
}

// The provider `uri` names, as a migration target: a PKCS#11 key is generated in the token if
// the token holds none of that label, a key file is created if there is none.
StatusOr<std::unique_ptr<KeyProvider>> TargetProvider(const std::string& uri, Random& random) {
  if (uri.starts_with("pkcs11:")) {
    ASSIGN_OR_RETURN(Pkcs11Uri parsed, ParsePkcs11Uri(uri));
    return NewPkcs11KeyProvider(std::move(parsed), Pkcs11Options{.create_if_missing = true});
  }
  ASSIGN_OR_RETURN(std::unique_ptr<KeyProvider> provider, KeyProviderForUri(uri));
  std::string path = uri.substr(5);
  if (path.starts_with("//")) path = path.substr(2);
  Status created = CreateRootKeyFile(path, random);
  if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return Err(created);
  return provider;
}

// Seals every key of the keyring again under the root key `to_uri` names, one key at a time:
// each is opened under the current root key, sealed under the new one, written (compare-and-
// swap) and read back and opened under the new one before the next. A key already sealed by the
// new kind of root key is only checked, so an interrupted run is resumed by running it again.
int RunMigrateRoot(const ServerConfig& config, const std::string& to_uri) {
  SystemRandom random;
  auto opened = OpenInitializedStore(config);
  if (std::holds_alternative<int>(opened)) return std::get<int>(opened);
  InitializedStore& o = std::get<InitializedStore>(opened);
  std::shared_ptr<RootKey> from = OpenRootKey(RootKeyProviderFor(config), random);
  if (from == nullptr) return kExitError;
  std::shared_ptr<RootKey> to = OpenRootKey(TargetProvider(to_uri, random), random);
  if (to == nullptr) return kExitError;
  if (from->kind() == to->kind()) {
    fmt::print(stderr,
               "error: the keyring moves between a key file and a PKCS#11 token; both root keys "
               "here are {} ({} and {})\n",
               RootKeyKindName(to->kind()), from->Describe(), to->Describe());
    return kExitUsage;
  }
  size_t moved = 0;
  size_t already = 0;
  for (const WrappedKey& key : o.keys) {
    if (SealedRootKind(key.wrapped) == to->kind()) {
      if (Status s = Keyring::Verify(key, *to); !s.ok()) {
        fmt::print(stderr, "error: key {} is sealed by a {} root key, but not by {}: {}\n", key.id,
                   RootKeyKindName(to->kind()), to->Describe(), s.message());
        return kExitError;
      }
      ++already;
      continue;
    }
    auto resealed = Keyring::Reseal(key, *from, *to);
    if (!resealed.has_value()) {
      fmt::print(stderr, "error: key {} ({}): {} (nothing more was changed)\n", key.id, key.purpose,
                 resealed.error().message());
      return kExitError;
    }
    if (Status s = o.store.store->ReplaceKeyWrapping(key.id, key.wrapped, resealed->wrapped);
        !s.ok()) {
      fmt::print(stderr, "error: cannot store key {} sealed anew: {} (run it again to resume)\n",
                 key.id, s.message());
      return kExitError;
    }
    // Read back and opened under the new root key before the next one is touched.
    bool verified = false;
    if (auto stored = o.store.store->LoadKeys(); stored.has_value()) {
      for (const WrappedKey& k : *stored) {
        if (k.id == key.id) verified = Keyring::Verify(k, *to).ok();
      }
    }
    if (!verified) {
      fmt::print(stderr,
                 "error: key {} does not open under {} after it was written; stop, and check "
                 "the store and the token\n",
                 key.id, to->Describe());
      return kExitError;
    }
    ++moved;
    fmt::print("key {} ({}) is now sealed by {}\n", key.id, key.purpose, to->Describe());
    std::fflush(stdout);
  }
  Audit(*o.store.store, *o.store.clock, "keys.migrate-root", "keyring/root");
  fmt::print(
      "The keyring is sealed by {} ({} keys sealed anew, {} already were).\n"
      "Running servers keep serving with the keys they hold. Those started with\n"
      "--next-root-key-uri naming the new root key take up keys sealed by it from now on; give\n"
      "the others --root-key-uri (or COFFER_ROOT_KEY_URI) naming it and restart them one at a\n"
      "time, before the next `coffer keys rotate`.\n",
      to->Describe(), moved, already);
  return kExitOk;
}

// A new token signing key becomes current; replaced keys whose tokens have all expired (their
// successor is older than the token lifetime) are deleted.
int RunRotateTokenKey(const ServerConfig& config) {
  SystemRandom random;
  auto unlocked = OpenUnlocked(config, random);
  if (std::holds_alternative<int>(unlocked)) return std::get<int>(unlocked);
  auto& [o, ring, root_key] = std::get<UnlockedStore>(unlocked);
  const UnixMicros now = o.store.clock->Now();
  uint32_t next_id = 1;
  for (const WrappedKey& key : o.keys) next_id = std::max(next_id, key.id + 1);
  auto key = Keyring::CreateKey(*root_key, next_id, kKeyPurposeTokenSigning, random, now);
  root_key.reset();
  if (!key.has_value()) {
    fmt::print(stderr, "error: {}\n", key.error().message());
    return kExitError;
  }
  if (Status s = o.store.store->InsertKey(*key); !s.ok()) {
    fmt::print(stderr, "error: cannot store the new token signing key: {}{}\n", s.message(),
               s.code() == StatusCode::kAlreadyExists ? " (another rotation ran; try again)" : "");
    return kExitError;
  }
  Audit(*o.store.store, *o.store.clock, "keys.rotate_token_key",
        KeyPath(next_id, kKeyPurposeTokenSigning));
  // Each replaced key verifies for one token lifetime after the key that replaced it was made.
  const UnixMicros lifetime =
      (config.token_ttl_seconds + kReplacedTokenKeySlack.count()) * kMicrosPerSecond;
  std::vector<const WrappedKey*> token_keys;
  for (const WrappedKey& k : o.keys) {
    if (k.purpose == kKeyPurposeTokenSigning) token_keys.push_back(&k);
  }
  token_keys.push_back(&*key);
  int dropped = 0;
  for (size_t i = 0; i + 1 < token_keys.size(); ++i) {
    if (token_keys[i + 1]->created_at + lifetime > now) continue;
    if (Status s = o.store.store->DeleteInactiveKey(token_keys[i]->id, kKeyPurposeTokenSigning);
        !s.ok() && s.code() != StatusCode::kNotFound) {
      fmt::print(stderr, "warning: cannot drop token signing key {}: {}\n", token_keys[i]->id,
                 s.message());
      continue;
    }
    ++dropped;
  }
  fmt::print(
      "Token signing key {} now signs new tokens; the previous key verifies the tokens it signed\n"
      "until they expire ({} s). Running servers switch within {} s. {} expired key(s) dropped.\n",
      next_id, config.token_ttl_seconds, kKeyringRefreshInterval.count(), dropped);
  return kExitOk;
}

}  // namespace

void AddKeysCommand(CLI::App& app, OfflineRegistry& registry) {
  // The options' storage lives as long as the callbacks that read it (as long as `app`).
  struct Options {
    size_t batch_size = 100;
    uint32_t key_id = 0;
    std::string to_uri;
  };
  auto o = std::make_shared<Options>();
  CLI::App* keys = app.add_subcommand(
      "keys",
      "Data keys: status, rotate, reencrypt, retire, migrate-root; the token signing key:\n"
      "rotate-token-key; the pepper: rotate-pepper, rewrap-pepper, pepper-status,\n"
      "retire-pepper (on the store; servers may run)");
  keys->require_subcommand(1);
  keys->footer(
      "Rotation: `keys rotate` adds a data key that new writes use (old ones stay readable);\n"
      "`keys reencrypt` moves every stored value to it (batched, safe to interrupt and rerun);\n"
      "`keys retire --key-id N` then deletes the old key. Running servers pick up a new key\n"
      "within 2 s. rotate and reencrypt need the root key (root.key in --data-dir,\n"
      "--root-key-file, COFFER_ROOT_KEY or --root-key-uri). `keys migrate-root --to URI` moves\n"
      "the keyring between a key file and a PKCS#11 token. See docs/operations.md, \"Data key\n"
      "rotation\" and \"Root key in an HSM\".\n"
      "`keys rotate-token-key` makes a new Ed25519 key sign access tokens; the old one verifies\n"
      "the tokens it signed until they expire (docs/operations.md, \"Rotating server keys\").\n"
      "`keys rotate-pepper` adds a pepper for API-key and share-link hashes; `keys\n"
      "rewrap-pepper` chains every stored hash under it (docs/operations.md, \"Rotating the\n"
      "pepper\").");
  CLI::App* status =
      keys->add_subcommand("status", "List the data keys and how many values use each");
  registry.add_store_options(*status);
  status->callback([&registry] { registry.action = RunStatus; });
  CLI::App* rotate =
      keys->add_subcommand("rotate", "Add a new data key and make it the active one");
  registry.add_store_options(*rotate);
  rotate->footer("Example:\n  coffer keys rotate --data-dir /var/lib/coffer");
  rotate->callback([&registry] { registry.action = RunRotate; });
  CLI::App* reencrypt = keys->add_subcommand(
      "reencrypt", "Move every stored value to the active data key (resumable)");
  registry.add_store_options(*reencrypt);
  reencrypt->add_option("--batch-size", o->batch_size, "Values per transaction")
      ->check(IntegerOption("batch_size"))
      ->capture_default_str();
  reencrypt->footer("Example:\n  coffer keys reencrypt --data-dir /var/lib/coffer");
  reencrypt->callback([&registry, o] {
    registry.action = [o](const ServerConfig& config) {
      return RunReencrypt(config, o->batch_size);
    };
  });
  CLI::App* rotate_token =
      keys->add_subcommand("rotate-token-key",
                           "Make a new Ed25519 token signing key current (the old one verifies "
                           "its tokens until they expire)");
  registry.add_store_options(*rotate_token);
  rotate_token->footer("Example:\n  coffer keys rotate-token-key --data-dir /var/lib/coffer");
  rotate_token->callback([&registry] { registry.action = RunRotateTokenKey; });
  AddPepperCommands(*keys, registry);
  CLI::App* retire =
      keys->add_subcommand("retire", "Delete an old data key once no stored value uses it");
  registry.add_store_options(*retire);
  retire->add_option("--key-id", o->key_id, "The data key to retire")->required();
  retire->footer("Example:\n  coffer keys retire --data-dir /var/lib/coffer --key-id 1");
  retire->callback([&registry, o] {
    registry.action = [o](const ServerConfig& config) { return RunRetire(config, o->key_id); };
  });
  CLI::App* migrate = keys->add_subcommand(
      "migrate-root",
      "Seal the keyring under another root key: a key file to a PKCS#11 token, or back "
      "(resumable)");
  registry.add_store_options(*migrate);
  migrate->add_option("--to", o->to_uri, "The new root key: file:PATH or a pkcs11: URI")
      ->required()
      ->check(CLI::Validator(
          [](const std::string& uri) -> std::string {
            auto provider = KeyProviderForUri(uri);
            return provider.has_value() ? "" : provider.error().message();
          },
          "URI"));
  migrate->footer(
      "The current root key is the one --root-key-uri (or --root-key-file) names. A PKCS#11\n"
      "target key is generated in the token when missing; a target key file is created.\n"
      "Example:\n  coffer keys migrate-root --data-dir /var/lib/coffer --to "
      "'pkcs11:token=coffer;object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&"
      "pin-source=file:/etc/coffer/pin'");
  migrate->callback([&registry, o] {
    registry.action = [o](const ServerConfig& config) { return RunMigrateRoot(config, o->to_uri); };
  });
}

}  // namespace coffer::admin
