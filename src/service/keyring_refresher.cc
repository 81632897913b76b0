// KeyringRefresher: periodic and on-demand re-reading of the store's keyring.
#include "service/keyring_refresher.h"

#include <algorithm>
#include <utility>

namespace coffer {

namespace {

// A new data key that does not open under this server's root key was sealed by another one (a
// `coffer keys migrate-root` this server was not told of): the reads that need it cannot be
// served, as when a token is gone, and /v1/ready says what to do.
Status SealedByAnotherRoot(const Status& failed) {
  if (failed.code() != StatusCode::kFailedPrecondition) return failed;
  StatusPayload payload;
  payload.key_provider_unavailable = true;
  return Status(StatusCode::kUnavailable,
                failed.message() +
                    " (if `coffer keys migrate-root` moved the keyring, name the new root key "
                    "with --next-root-key-uri, or --root-key-uri, and restart)",
                payload);
}

}  // namespace

KeyringRefresher::~KeyringRefresher() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (thread_.joinable()) {
    thread_.join();
  }
}

StatusOr<bool> KeyringRefresher::RefreshNow() {
  MutexLock lock(refresh_mu_);
  return RefreshLocked();
}

StatusOr<bool> KeyringRefresher::RefreshLocked() {
  const MonotonicTime start = clock_.Now();
  ASSIGN_OR_RETURN(std::vector<WrappedKey> keys, store_.LoadKeys());
  bool changed = false;
  if (!keyring_.DataKeysMatch(keys) || !keyring_.TokenKeysMatch(keys) ||
      !keyring_.PeppersMatch(keys)) {
    auto root_key = provider_.OpenRootKey(keyring_.random());
    if (!root_key.has_value()) {
      NoteProvider(root_key.error());
      return Err(root_key.error());
    }
    auto data_changed = keyring_.RefreshDataKeys(keys, **root_key);
    if (!data_changed.has_value()) {
      const Status failed = SealedByAnotherRoot(data_changed.error());
      NoteProvider(failed);
      return Err(failed);
    }
    auto token_changed = keyring_.RefreshTokenKeys(keys, **root_key);
    if (!token_changed.has_value()) {
      NoteProvider(token_changed.error());
      return Err(token_changed.error());
    }
    auto peppers_changed = keyring_.RefreshPeppers(keys, **root_key);
    NoteProvider(peppers_changed.has_value() ? OkStatus() : peppers_changed.error());
    if (!peppers_changed.has_value()) return Err(peppers_changed.error());
    changed = *data_changed || *token_changed || *peppers_changed;
  }  // a key file's root key is wiped as it goes out of scope
  last_good_start_ = start;
  return changed;
}

bool KeyringRefresher::RefreshSoon() {
  const MonotonicTime asked = clock_.Now();
  MutexLock lock(refresh_mu_);
  if (last_good_start_ > asked) {
    return true;  // a refresh that began after this call finished while it waited for the lock
  }
  return RefreshLocked().has_value();
}

void KeyringRefresher::NoteProvider(const Status& status) {
  MutexLock lock(failure_mu_);
  if (status.ok() || status.payload().key_provider_unavailable) {
    provider_failure_ = status;
  }
}

Status KeyringRefresher::ProviderFailure() const {
  MutexLock lock(failure_mu_);
  return provider_failure_;
}

void KeyringRefresher::Start(std::chrono::milliseconds interval,
                             std::function<void(const StatusOr<bool>&)> on_result) {
  thread_ = std::thread([this, interval, on_result = std::move(on_result)] {
    MutexLock lock(stop_mu_);
    while (!clock_.WaitFor(stop_mu_, stop_cv_, interval,
                           [this]() COFFER_REQUIRES(stop_mu_) { return stopping_; })) {
      lock.Unlock();
      if (Status reachable = provider_.CheckReachable(); !reachable.ok()) {
        NoteProvider(reachable);
        if (on_result) on_result(Err(reachable));
      } else {
        NoteProvider(OkStatus());
      }
      const StatusOr<bool> result = RefreshNow();
      if (on_result && (!result.has_value() || *result)) {
        on_result(result);
      }
      lock.Lock();
    }
  });
}

namespace {

// EnsureTokenSigningKey, for either kind of root key (a RootKey, or a key file's bytes).
template <typename Root>
StatusOr<bool> EnsureTokenSigningKeyUnder(Store& store, Root& root_key, Random& random,
                                          UnixMicros now, std::vector<WrappedKey>& keys) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint32_t next_id = 1;
    for (const WrappedKey& key : keys) {
      if (key.purpose == kKeyPurposeTokenSigning && key.active) {
        return false;
      }
      next_id = std::max(next_id, key.id + 1);
    }
    ASSIGN_OR_RETURN(WrappedKey key,
                     Keyring::CreateKey(root_key, next_id, kKeyPurposeTokenSigning, random, now));
    const Status inserted = store.InsertKey(key);
    if (inserted.ok()) {
      keys.push_back(std::move(key));
      return true;
    }
    if (inserted.code() != StatusCode::kAlreadyExists) {
      return Err(inserted);
    }
    // Another server took the id first (perhaps adding the key itself): read again.
    ASSIGN_OR_RETURN(keys, store.LoadKeys());
  }
  return Err(UnavailableError("cannot add a token signing key: the keyring keeps changing"));
}

}  // namespace

StatusOr<bool> EnsureTokenSigningKey(Store& store, RootKey& root_key, Random& random,
                                     UnixMicros now, std::vector<WrappedKey>& keys) {
  return EnsureTokenSigningKeyUnder(store, root_key, random, now, keys);
}

StatusOr<bool> EnsureTokenSigningKey(Store& store, const SecretBuffer& root_key, Random& random,
                                     UnixMicros now, std::vector<WrappedKey>& keys) {
  return EnsureTokenSigningKeyUnder(store, root_key, random, now, keys);
}

}  // namespace coffer
