// AccessCache: vaults and their policies kept in memory, so authorizing a request costs no store
// round trip once warm. It follows the store's change feed: a vault or policy change, made
// through this process or (on a store shared by several servers) any other, is forgotten here
// when the feed reports it — before the changing call returns in this process, within
// kMaxChangeDelay in the others — and nothing is served from memory while the feed is not
// Current(). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "model/identity.h"
#include "model/secret.h"
#include "store/store.h"

namespace coffer {

class AccessCache {
 public:
  using PolicyList = std::shared_ptr<const std::vector<Policy>>;

  // Follows the store's own feed.
  explicit AccessCache(Store& store) : AccessCache(store, store.Changes()) {}
  // Follows `changes` instead (a test that reports changes by hand). Both must outlive the cache.
  AccessCache(Store& store, ChangeFeed& changes);

  // kNotFound when the vault does not exist.
  StatusOr<Vault> GetVault(std::string_view vault_id);
  // Every policy of the vault.
  StatusOr<PolicyList> Policies(std::string_view vault_id);

 private:
  // Bounds memory: past this many entries a map is cleared and refilled on demand.
  static constexpr size_t kMaxEntries = 100'000;

  void OnChange(const StoreChange& change);

  Store& store_;
  ChangeFeed& changes_;
  SharedMutex mu_;
  // Bumped by every change reported; a fill that started before a bump is not kept, so a value
  // read from the store before a change can never be cached after it.
  uint64_t generation_ COFFER_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, Vault> vaults_ COFFER_GUARDED_BY(mu_);
  std::unordered_map<std::string, PolicyList> policies_ COFFER_GUARDED_BY(mu_);
  ChangeFeed::Subscription subscription_;  // last: unsubscribed before the maps go
};

}  // namespace coffer
