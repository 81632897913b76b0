// SecretWatchers: wakes requests waiting for a secret, or any secret under a path prefix, to
// change (long polls), from the store's change feed: one subscription for all of them, so a
// thousand waiting agents cost one lookup per change, not a thousand callbacks. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "store/change_feed.h"

namespace coffer {

class SecretWatchers {
 public:
  // `feed` must outlive this.
  explicit SecretWatchers(ChangeFeed& feed);
  SecretWatchers(const SecretWatchers&) = delete;
  SecretWatchers& operator=(const SecretWatchers&) = delete;

  // Calls `on_change` (on the reporting thread, quick, never into the store) whenever the secret
  // at `path` of vault `vault_id` may have changed, or with `prefix`, any secret whose path starts
  // with `path`; also when the vault changed (deleted) or the feed lost track (kEverything).
  // Until the returned token is destroyed (on any thread; afterwards `on_change` is not running
  // and is never called again).
  [[nodiscard]] std::shared_ptr<void> Watch(std::string vault_id, std::string path, bool prefix,
                                            std::function<void()> on_change);

  // Watches registered right now.
  size_t size() const;

 private:
  struct Entry {
    std::string path;
    bool prefix = false;
    std::function<void()> on_change;
  };
  void OnChange(const StoreChange& change);

  mutable Mutex mu_;  // held while callbacks run, so a token's end waits for its callback
  // By vault id.
  std::multimap<std::string, std::shared_ptr<Entry>> entries_ COFFER_GUARDED_BY(mu_);
  ChangeFeed::Subscription subscription_;  // last: ends before the entries do
};

}  // namespace coffer
