// KeyringRefresher: periodic and on-demand re-reading of the store's keyring.
#include "service/keyring_refresher.h"

#include <utility>

namespace coffer {

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
  if (!keyring_.DataKeysMatch(keys)) {
    auto root_key = provider_.OpenRootKey(keyring_.random());
    if (!root_key.has_value()) {
      NoteProvider(root_key.error());
      return Err(root_key.error());
    }
    auto refreshed = keyring_.RefreshDataKeys(keys, **root_key);
    NoteProvider(refreshed.has_value() ? OkStatus() : refreshed.error());
    ASSIGN_OR_RETURN(changed, std::move(refreshed));
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

}  // namespace coffer
