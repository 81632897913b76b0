// Generation-checked caching of vaults and policies.
#include "service/access_cache.h"

#include <mutex>

namespace coffer {

StatusOr<Vault> AccessCache::GetVault(std::string_view vault_id) {
  uint64_t generation = 0;
  if (caching_) {
    std::shared_lock lock(mu_);
    auto it = vaults_.find(std::string(vault_id));
    if (it != vaults_.end()) return it->second;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(Vault vault, store_.GetVault(vault_id));
  std::unique_lock lock(mu_);
  if (caching_ && generation == generation_) {
    if (vaults_.size() >= kMaxEntries) vaults_.clear();
    vaults_.emplace(vault.id, vault);
  }
  return vault;
}

StatusOr<AccessCache::PolicyList> AccessCache::Policies(std::string_view vault_id) {
  uint64_t generation = 0;
  if (caching_) {
    std::shared_lock lock(mu_);
    auto it = policies_.find(std::string(vault_id));
    if (it != policies_.end()) return it->second;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(std::vector<Policy> list, store_.ListPolicies(vault_id));
  auto shared = std::make_shared<const std::vector<Policy>>(std::move(list));
  std::unique_lock lock(mu_);
  if (caching_ && generation == generation_) {
    if (policies_.size() >= kMaxEntries) policies_.clear();
    policies_.emplace(std::string(vault_id), shared);
  }
  return shared;
}

void AccessCache::InvalidateVault(std::string_view vault_id) {
  std::unique_lock lock(mu_);
  ++generation_;
  vaults_.erase(std::string(vault_id));
  policies_.erase(std::string(vault_id));
}

void AccessCache::InvalidatePolicies(std::string_view vault_id) {
  std::unique_lock lock(mu_);
  ++generation_;
  policies_.erase(std::string(vault_id));
}

}  // namespace coffer
