// AccessCache: vaults and their policies kept in memory, so authorizing a request costs no store
// round trip once warm. The services that change a vault or its policies invalidate it before
// they answer, so a change is in force the moment its call returns. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "model/identity.h"
#include "model/secret.h"
#include "store/store.h"

namespace coffer {

class AccessCache {
 public:
  using PolicyList = std::shared_ptr<const std::vector<Policy>>;

  // On a store shared with other processes (several servers on PostgreSQL) nothing is kept:
  // a policy deleted through another server must stop granting here at once, and in-process
  // invalidation cannot see that. Every call then reads the store.
  explicit AccessCache(Store& store)
      : store_(store), caching_(!store.SharedByOtherProcesses()) {}

  // kNotFound when the vault does not exist.
  StatusOr<Vault> GetVault(std::string_view vault_id);
  // Every policy of the vault.
  StatusOr<PolicyList> Policies(std::string_view vault_id);

  // Forget a vault (and its policies): call after deleting it.
  void InvalidateVault(std::string_view vault_id);
  // Forget a vault's policies: call after changing them.
  void InvalidatePolicies(std::string_view vault_id);

 private:
  // Bounds memory: past this many entries a map is cleared and refilled on demand.
  static constexpr size_t kMaxEntries = 100'000;

  Store& store_;
  const bool caching_;  // false on a store shared with other processes
  std::shared_mutex mu_;
  // Bumped by every invalidation; a fill that started before a bump is not kept, so a value
  // read from the store before a change can never be cached after it.
  uint64_t generation_ = 0;                              // guarded by mu_
  std::unordered_map<std::string, Vault> vaults_;        // guarded by mu_
  std::unordered_map<std::string, PolicyList> policies_;  // guarded by mu_
};

}  // namespace coffer
