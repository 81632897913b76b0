// ChangeFeed: how a store tells the layers above that something they may keep in memory changed
// (a credential, a principal, a vault, a vault's policies), whichever process changed it, and
// whether what they keep may be trusted right now. The store knows nothing of the caches; the
// caches know nothing of how the store learns of other processes' changes. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/monotonic_clock.h"
#include "model/secret.h"

namespace coffer {

// What changed. Ids are those of the Store interface.
struct StoreChange {
  enum class Kind : uint8_t {
    kCredential,  // credential `id` (a public id) was created or revoked
    kPrincipal,   // principal (principal_kind, id): the principal itself (an agent revoked) and
                  // any number of its credentials, old and new (created, revoked, replaced)
    kVault,       // vault `id` was created or deleted (and with it its policies)
    kPolicies,    // a policy of vault `id` was created, updated or deleted
    kSecret,      // the secret at `path` in vault `id` changed: a new version, a version
                  // disabled, the secret deleted (a deleted vault is kVault)
    kBinding,     // gateway binding `id` of agent `agent_id` was created, changed or deleted
    kEverything,  // anything may have changed: the feed lost track for a while
  };
  Kind kind = Kind::kEverything;
  PrincipalKind principal_kind = PrincipalKind::kUser;  // kPrincipal only
  std::string id;
  std::string path;      // kSecret only
  std::string agent_id;  // kBinding only

  static StoreChange Credential(std::string id) {
    return {Kind::kCredential, PrincipalKind::kUser, std::move(id), "", ""};
  }
  static StoreChange Principal(PrincipalKind kind, std::string id) {
    return {Kind::kPrincipal, kind, std::move(id), "", ""};
  }
  static StoreChange Vault(std::string id) {
    return {Kind::kVault, PrincipalKind::kUser, std::move(id), "", ""};
  }
  static StoreChange Policies(std::string vault_id) {
    return {Kind::kPolicies, PrincipalKind::kUser, std::move(vault_id), "", ""};
  }
  static StoreChange Secret(std::string vault_id, std::string path) {
    return {Kind::kSecret, PrincipalKind::kUser, std::move(vault_id), std::move(path), ""};
  }
  static StoreChange Binding(std::string binding_id, std::string agent_id) {
    return {Kind::kBinding, PrincipalKind::kUser, std::move(binding_id), "", std::move(agent_id)};
  }
  static StoreChange Everything() { return {}; }

  bool operator==(const StoreChange&) const = default;
};

// The longest a change committed by another process may go unreported while Current() is true:
// a cache that serves only while Current() serves nothing staler than this.
inline constexpr std::chrono::milliseconds kMaxChangeDelay{900};

class ChangeFeed {
 public:
  using Callback = std::function<void(const StoreChange&)>;

  // Keeps a watcher registered; unregisters it when destroyed, after which its callback is not
  // running and is never called again. May outlive the feed.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept = default;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription() { Reset(); }

   private:
    friend class ChangeFeed;
    struct Watchers;
    Subscription(std::weak_ptr<Watchers> watchers, uint64_t id)
        : watchers_(std::move(watchers)), id_(id) {}
    void Reset();

    std::weak_ptr<Watchers> watchers_;
    uint64_t id_ = 0;
  };

  enum class Writers : uint8_t {
    kThisProcess,  // only this process writes the store: its own reports are all there is
    kShared,       // other processes write it too (PostgreSQL shared by several servers)
  };
  // `clock` (which must outlive the feed) is the one TrustUntil's times are read on.
  explicit ChangeFeed(Writers writers, const MonotonicClock& clock = DefaultMonotonicClock());
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Calls `on_change` for every change reported from now on until the subscription is
  // destroyed. `on_change` runs on the reporting thread (a writer's, or the store's listener),
  // must be quick, must not throw, must not call back into the store or the feed, and must not
  // destroy its own subscription.
  [[nodiscard]] Subscription Watch(Callback on_change);

  // True when what a watcher keeps may be served: every change committed by any process more
  // than kMaxChangeDelay ago has been reported. Always true with Writers::kThisProcess; with
  // kShared, true only until the time the store last vouched for (TrustUntil), so a feed whose
  // source went quiet stops being trusted by itself. Cheap: a load and, for kShared, a read of
  // the monotonic clock.
  bool Current() const {
    return !shared_ ||
           clock_.Now().time_since_epoch().count() < trusted_until_.load(std::memory_order_acquire);
  }

  // The clock of Current() and TrustUntil.
  const MonotonicClock& clock() const { return clock_; }

  // --- for the store ---------------------------------------------------------------------------
  // Reports `change` to every watcher, on this thread, before returning.
  void Publish(const StoreChange& change);
  // kShared: watchers may trust what they keep until `until` (on clock()): call it only once
  // every change committed before `until` - kMaxChangeDelay has been published. A time in the
  // past makes Current() false at once.
  void TrustUntil(MonotonicTime until);

 private:
  using Watchers = Subscription::Watchers;
  const bool shared_;
  const MonotonicClock& clock_;
  std::atomic<MonotonicTime::rep> trusted_until_{0};  // clock_ ticks; 0: never
  std::shared_ptr<Watchers> watchers_;
};

}  // namespace coffer
