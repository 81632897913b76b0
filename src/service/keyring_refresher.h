// KeyringRefresher: keeps a running server's data keys, token signing keys and peppers in line
// with the store's keyring, so a `coffer keys rotate` (or retire, rotate-token-key,
// rotate-pepper, retire-pepper) done by another process takes effect without a restart.
#pragma once

#include <chrono>
#include <thread>

#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "crypto/key_provider.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace coffer {

// How often a server re-reads the keyring by default. `coffer keys retire` waits this long,
// several times over, after a rotation before it will drop the previous key.
inline constexpr std::chrono::seconds kKeyringRefreshInterval{2};

class KeyringRefresher {
 public:
  // `store`, `provider`, `keyring` and `clock` must outlive this object. The root key is opened
  // through `provider` only when the store holds a data or token signing key the keyring does not
  // (a key file's is read and wiped at once; a PKCS#11 token's stays in the token). A token that
  // cannot be reached fails the refresh with kUnavailable (payload key_provider_unavailable).
  // `clock` orders refreshes and times the background thread's.
  KeyringRefresher(Store& store, KeyProvider& provider, Keyring& keyring,
                   const MonotonicClock& clock = DefaultMonotonicClock())
      : store_(store), provider_(provider), keyring_(keyring), clock_(clock) {}
  // Stops the background thread, if started.
  ~KeyringRefresher();
  KeyringRefresher(const KeyringRefresher&) = delete;
  KeyringRefresher& operator=(const KeyringRefresher&) = delete;

  // Reads the keyring from the store and applies it (Keyring::RefreshDataKeys, then
  // RefreshTokenKeys, RefreshPeppers). Returns whether the data or token signing keys or the
  // peppers changed; the store's or the
  // provider's error otherwise (the keys that failed to refresh are then unchanged). Thread-safe:
  // concurrent calls run one after another.
  StatusOr<bool> RefreshNow();

  // For a read that met a key id the keyring does not hold: makes sure a refresh that began
  // after this call has completed — its own, or one another thread ran meanwhile (concurrent
  // callers share one refresh). Returns true when such a refresh succeeded, so the read is
  // worth retrying. Never skips a refresh the caller needs (a rotation just made elsewhere).
  bool RefreshSoon();

  // Why the root key's provider could not be reached at the last refresh or check (kUnavailable
  // with payload key_provider_unavailable), or OK. Thread-safe, never waits on a refresh.
  Status ProviderFailure() const;

  // Calls RefreshNow every `interval` on a background thread until destruction; `on_result`
  // (may be empty) hears each result that changed something or failed. Each round also checks
  // that the provider can be reached (KeyProvider::CheckReachable), so a token that went away is
  // noticed, and one that came back is used again, without waiting for a new key.
  void Start(std::chrono::milliseconds interval,
             std::function<void(const StatusOr<bool>&)> on_result);

 private:
  Store& store_;
  KeyProvider& provider_;
  Keyring& keyring_;
  const MonotonicClock& clock_;

  // RefreshNow with refresh_mu_ held.
  StatusOr<bool> RefreshLocked() COFFER_REQUIRES(refresh_mu_);

  Mutex refresh_mu_;  // serializes refreshes
  // When the last successful refresh began (min: none yet).
  MonotonicTime last_good_start_ COFFER_GUARDED_BY(refresh_mu_) = MonotonicTime::min();

  // Records the outcome of a use of the provider for ProviderFailure.
  void NoteProvider(const Status& status);

  mutable Mutex failure_mu_;
  Status provider_failure_ COFFER_GUARDED_BY(failure_mu_);

  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ COFFER_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

// Adds an active token signing key to the store when `keys` (the store's keyring) has none — a
// store from before tokens were signed with Ed25519 — and appends it to `keys`. Returns whether
// it added one. Safe against another process adding one at the same moment. The key is sealed
// through `root_key` (a key file's bytes, or a PKCS#11 token); the SecretBuffer overload is the
// same with a 32-byte root key held in memory.
StatusOr<bool> EnsureTokenSigningKey(Store& store, RootKey& root_key, Random& random,
                                     UnixMicros now, std::vector<WrappedKey>& keys);
StatusOr<bool> EnsureTokenSigningKey(Store& store, const SecretBuffer& root_key, Random& random,
                                     UnixMicros now, std::vector<WrappedKey>& keys);

}  // namespace coffer
