// What the `coffer keys` command files share (keys_command.cc, pepper_command.cc; only they
// include it): the store opened with its keyring unwrapped, and the audit of key operations.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "admin/offline_command.h"
#include "common/clock.h"
#include "common/random.h"
#include "crypto/key_provider.h"
#include "crypto/keyring.h"
#include "server/store_factory.h"
#include "store/store.h"

namespace coffer::admin {

// An initialized store with its keyring unwrapped under the root key, and that root key (to wrap
// a new key with). The root key must be this store's: a key wrapped under another would lock
// every server out.
struct UnlockedStore {
  server::InitializedStore opened;
  std::unique_ptr<Keyring> ring;
  std::shared_ptr<RootKey> root_key;
};

// Opens the store and unwraps its keyring; the exit code after printing why not.
std::variant<UnlockedStore, int> OpenUnlocked(const ServerConfig& config, Random& random);

// The audit path of key `key_id` of `purpose`.
std::string KeyPath(uint32_t key_id, std::string_view purpose = kKeyPurposeData);

// Records a key operation in the audit chain (no actor: it ran on the server machine). `path`
// names what it touched: "keyring/<purpose>/<key id>", or "keyring/root".
void Audit(Store& store, const Clock& clock, std::string_view action, std::string path);

// kExitOk when `batch_size` is within its bounds; else prints why and returns kExitUsage.
int CheckBatchSize(size_t batch_size);

// `coffer keys rotate-pepper|rewrap-pepper|pepper-status|retire-pepper` (pepper_command.cc),
// added to the `keys` command.
void AddPepperCommands(CLI::App& keys, OfflineRegistry& registry);

}  // namespace coffer::admin
