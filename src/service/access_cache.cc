// Generation-checked caching of vaults and policies, emptied by the store's change feed.
#include "service/access_cache.h"

namespace coffer {

AccessCache::AccessCache(Store& store, ChangeFeed& changes)
    : store_(store),
      changes_(changes),
      subscription_(changes.Watch([this](const StoreChange& change) { OnChange(change); })) {}

StatusOr<Vault> AccessCache::GetVault(std::string_view vault_id) {
  const bool current = changes_.Current();
  uint64_t generation = 0;
  if (current) {
    ReaderMutexLock lock(mu_);
    auto it = vaults_.find(std::string(vault_id));
    if (it != vaults_.end()) return it->second;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(Vault vault, store_.GetVault(vault_id));
  if (current) {
    WriterMutexLock lock(mu_);
    if (generation == generation_) {
      if (vaults_.size() >= kMaxEntries) vaults_.clear();
      vaults_.emplace(vault.id, vault);
    }
  }
  return vault;
}

StatusOr<AccessCache::PolicyList> AccessCache::Policies(std::string_view vault_id) {
  const bool current = changes_.Current();
  uint64_t generation = 0;
  if (current) {
    ReaderMutexLock lock(mu_);
    auto it = policies_.find(std::string(vault_id));
    if (it != policies_.end()) return it->second;
    generation = generation_;
  }
  ASSIGN_OR_RETURN(std::vector<Policy> list, store_.ListPolicies(vault_id));
  auto shared = std::make_shared<const std::vector<Policy>>(std::move(list));
  if (current) {
    WriterMutexLock lock(mu_);
    if (generation == generation_) {
      if (policies_.size() >= kMaxEntries) policies_.clear();
      policies_.emplace(std::string(vault_id), shared);
    }
  }
  return shared;
}

void AccessCache::OnChange(const StoreChange& change) {
  using Kind = StoreChange::Kind;
  if (change.kind != Kind::kVault && change.kind != Kind::kPolicies &&
      change.kind != Kind::kEverything) {
    return;
  }
  WriterMutexLock lock(mu_);
  ++generation_;
  if (change.kind == Kind::kEverything) {
    vaults_.clear();
    policies_.clear();
    return;
  }
  if (change.kind == Kind::kVault) vaults_.erase(change.id);
  policies_.erase(change.id);
}

}  // namespace coffer
