// SecretWatchers (one feed subscription, watches by vault) and SecretService's reads for long
// polls: the latest readable version of a secret, without revealing or counting it.
#include "service/secret_watch.h"

#include <utility>

#include "service/secret_service.h"

namespace coffer {

SecretWatchers::SecretWatchers(ChangeFeed& feed)
    : subscription_(feed.Watch([this](const StoreChange& change) { OnChange(change); })) {}

std::shared_ptr<void> SecretWatchers::Watch(std::string vault_id, std::string path, bool prefix,
                                            std::function<void()> on_change) {
  auto entry = std::make_shared<Entry>(Entry{std::move(path), prefix, std::move(on_change)});
  std::multimap<std::string, std::shared_ptr<Entry>>::iterator it;
  {
    MutexLock lock(mu_);
    it = entries_.emplace(vault_id, entry);
  }
  // The token erases the entry: `this` outlives every token (the API's requests end before the
  // services do).
  auto erase = [this, it](void*) {
    MutexLock lock(mu_);
    entries_.erase(it);
  };
  return std::shared_ptr<void>(static_cast<void*>(entry.get()), std::move(erase));
}

size_t SecretWatchers::size() const {
  MutexLock lock(mu_);
  return entries_.size();
}

void SecretWatchers::OnChange(const StoreChange& change) {
  using Kind = StoreChange::Kind;
  MutexLock lock(mu_);
  if (change.kind == Kind::kEverything) {
    for (auto& [vault, entry] : entries_) {
      entry->on_change();
    }
    return;
  }
  if (change.kind != Kind::kSecret && change.kind != Kind::kVault) {
    return;
  }
  auto [first, last] = entries_.equal_range(change.id);
  for (auto it = first; it != last; ++it) {
    const Entry& e = *it->second;
    const bool matches = change.kind == Kind::kVault ||
                         (e.prefix ? change.path.starts_with(e.path) : change.path == e.path);
    if (matches) {
      e.on_change();
    }
  }
}

StatusOr<int64_t> SecretService::LatestReadableVersion(const RequestContext& ctx,
                                                       std::string_view vault_id,
                                                       std::string_view path) {
  ASSIGN_OR_RETURN(Vault vault, Authorize(ctx, vault_id, path, Permission::kRead));
  auto version = store_.GetSecretVersion(vault.id, path, VersionSelector::Current());
  if (version.has_value()) {
    return version->version;
  }
  const StatusCode code = version.error().code();
  if (code == StatusCode::kNotFound || code == StatusCode::kGone) {
    return 0;  // no secret yet, or every version disabled: a later version is worth waiting for
  }
  return Err(std::move(version.error()));
}

}  // namespace coffer
