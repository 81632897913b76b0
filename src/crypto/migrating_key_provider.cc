// The two-root-key provider of a server following a root key migration: see
// migrating_key_provider.h.
#include "crypto/migrating_key_provider.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <optional>

#include "common/mutex.h"

namespace coffer {
namespace {

class MigratingKeyProvider;

// The two root keys as one, for one use of the provider (a refresh, a startup): each is opened
// at most once, when first needed.
class MigratingRootKey final : public RootKey {
 public:
  MigratingRootKey(MigratingKeyProvider& provider, Random& random)
      : provider_(provider), random_(random) {}

  StatusOr<std::vector<uint8_t>> Seal(const SecretBuffer& key,
                                      std::span<const uint8_t> aad) override;
  StatusOr<SecretBuffer> Open(std::span<const uint8_t> sealed,
                              std::span<const uint8_t> aad) override;
  RootKeyKind kind() const override;
  std::string Describe() const override;

 private:
  // Root key `i` (0: current, 1: next), opened now if it was not.
  StatusOr<std::shared_ptr<RootKey>> Root(size_t i) const;

  MigratingKeyProvider& provider_;
  Random& random_;
  mutable Mutex mu_;
  mutable std::array<std::shared_ptr<RootKey>, 2> roots_ COFFER_GUARDED_BY(mu_);
};

class MigratingKeyProvider final : public KeyProvider {
 public:
  MigratingKeyProvider(std::unique_ptr<KeyProvider> current, std::unique_ptr<KeyProvider> next)
      : providers_{std::move(current), std::move(next)} {}

  StatusOr<SecretBuffer> LoadRootKey() override { return providers_[in_use()]->LoadRootKey(); }

  StatusOr<std::shared_ptr<RootKey>> OpenRootKey(Random& random) override {
    return std::shared_ptr<RootKey>(std::make_shared<MigratingRootKey>(*this, random));
  }

  Status CheckReachable() override { return providers_[in_use()]->CheckReachable(); }

  uint64_t failure_count() const override {
    return providers_[0]->failure_count() + providers_[1]->failure_count();
  }

  std::string Describe() const override {
    return fmt::format("{} (or {}, the root key a migration moves to)", providers_[0]->Describe(),
                       providers_[1]->Describe());
  }

  KeyProvider& provider(size_t i) { return *providers_[i]; }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  void set_in_use(size_t i) { in_use_.store(i, std::memory_order_relaxed); }

 private:
  const std::array<std::unique_ptr<KeyProvider>, 2> providers_;
  // The root key that opened a key last: the one the store is sealed by now.
  std::atomic<size_t> in_use_{0};
};

StatusOr<std::shared_ptr<RootKey>> MigratingRootKey::Root(size_t i) const {
  MutexLock lock(mu_);
  if (roots_[i] == nullptr) {
    ASSIGN_OR_RETURN(roots_[i], provider_.provider(i).OpenRootKey(random_));
  }
  return roots_[i];
}

StatusOr<std::vector<uint8_t>> MigratingRootKey::Seal(const SecretBuffer& key,
                                                      std::span<const uint8_t> aad) {
  ASSIGN_OR_RETURN(std::shared_ptr<RootKey> root, Root(provider_.in_use()));
  return root->Seal(key, aad);
}

StatusOr<SecretBuffer> MigratingRootKey::Open(std::span<const uint8_t> sealed,
                                              std::span<const uint8_t> aad) {
  const RootKeyKind sealed_by = SealedRootKind(sealed);
  const size_t first = provider_.in_use();
  std::optional<Status> mismatch;
  std::optional<Status> unavailable;
  // The root key in use first, then the other; a root key of the other kind is not asked.
  for (const size_t i : {first, 1 - first}) {
    StatusOr<std::shared_ptr<RootKey>> root = Root(i);
    if (!root.has_value()) {
      if (!unavailable.has_value()) unavailable = root.error();
      continue;
    }
    if ((*root)->kind() != sealed_by) {
      continue;
    }
    StatusOr<SecretBuffer> key = (*root)->Open(sealed, aad);
    if (key.has_value()) {
      provider_.set_in_use(i);
      return key;
    }
    auto& slot = key.error().code() == StatusCode::kUnavailable ? unavailable : mismatch;
    if (!slot.has_value()) slot = key.error();
  }
  // A root key that could not be reached may be the one that sealed it: that is the answer
  // (503), not a mismatch.
  if (unavailable.has_value()) return Err(*unavailable);
  if (mismatch.has_value()) return Err(*mismatch);
  return Err(FailedPreconditionError(fmt::format(
      "a keyring key is sealed by a {} root key, and neither root key given is one ({})",
      RootKeyKindName(sealed_by), Describe())));
}

RootKeyKind MigratingRootKey::kind() const {
  StatusOr<std::shared_ptr<RootKey>> root = Root(provider_.in_use());
  return root.has_value() ? (*root)->kind() : RootKeyKind::kUnknown;
}

std::string MigratingRootKey::Describe() const { return provider_.Describe(); }

}  // namespace

std::unique_ptr<KeyProvider> NewMigratingKeyProvider(std::unique_ptr<KeyProvider> current,
                                                     std::unique_ptr<KeyProvider> next) {
  return std::make_unique<MigratingKeyProvider>(std::move(current), std::move(next));
}

}  // namespace coffer
