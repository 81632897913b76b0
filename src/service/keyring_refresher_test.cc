// KeyringRefresher: a running server's keyring follows rotations and retirements made in the
// store by another process, on demand, rate-limited, and from its background thread.
#include "service/keyring_refresher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "common/monotonic_clock.h"
#include "crypto/aead.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

// Hands out a copy of a fixed root key and counts how often it was asked.
class FakeKeyProvider final : public KeyProvider {
 public:
  explicit FakeKeyProvider(const SecretBuffer& key) : key_(key.Clone()) {}
  StatusOr<SecretBuffer> LoadRootKey() override {
    ++loads_;
    if (unreachable_) {
      StatusPayload payload;
      payload.key_provider_unavailable = true;
      return Err(Status(StatusCode::kUnavailable, "fake token removed", payload));
    }
    return key_.Clone();
  }
  std::string Describe() const override { return "fake"; }
  int loads() const { return loads_; }
  void set_unreachable(bool unreachable) { unreachable_ = unreachable; }

 private:
  SecretBuffer key_;
  std::atomic<int> loads_{0};
  std::atomic<bool> unreachable_{false};
};

class KeyringRefresherTest : public ::testing::Test {
 protected:
  void AddDataKey(uint32_t id) {
    auto key = Keyring::CreateKey(env_.root_key_, id, kKeyPurposeData, env_.random_, 1);
    ASSERT_TRUE(key.has_value());
    ASSERT_TRUE(env_.store_->InsertKey(*key).ok());
  }

  ServiceTestEnv env_;
  FakeKeyProvider provider_{env_.root_key_};
};

TEST_F(KeyringRefresherTest, AnUnreachableProviderIsReportedUntilARefreshSucceeds) {
  KeyringRefresher refresher(*env_.store_, provider_, *env_.keyring_);
  EXPECT_TRUE(refresher.ProviderFailure().ok());
  AddDataKey(9);
  provider_.set_unreachable(true);
  auto failed = refresher.RefreshNow();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
  const Status why = refresher.ProviderFailure();
  EXPECT_EQ(why.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(why.payload().key_provider_unavailable);
  EXPECT_FALSE(env_.keyring_->HoldsDataKey(9));  // unchanged, nothing lost

  provider_.set_unreachable(false);
  auto recovered = refresher.RefreshNow();
  ASSERT_TRUE(recovered.has_value()) << recovered.error();
  EXPECT_TRUE(*recovered);
  EXPECT_TRUE(refresher.ProviderFailure().ok());
  EXPECT_TRUE(env_.keyring_->HoldsDataKey(9));
}

TEST_F(KeyringRefresherTest, RefreshNowPicksUpARotationAndLoadsTheRootKeyOnlyThen) {
  KeyringRefresher refresher(*env_.store_, provider_, *env_.keyring_);
  auto unchanged = refresher.RefreshNow();
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_FALSE(*unchanged);
  EXPECT_EQ(provider_.loads(), 0);  // nothing new: the root key is not needed

  AddDataKey(9);
  auto changed = refresher.RefreshNow();
  ASSERT_TRUE(changed.has_value()) << changed.error();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(provider_.loads(), 1);
  EXPECT_EQ(env_.keyring_->active_data_key_id(), 9u);
  EXPECT_TRUE(env_.keyring_->HoldsDataKey(1));
}

TEST_F(KeyringRefresherTest, RefreshSoonNeverSkipsARotationMadeJustBefore) {
  KeyringRefresher refresher(*env_.store_, provider_, *env_.keyring_);
  ASSERT_TRUE(refresher.RefreshNow().has_value());
  AddDataKey(9);  // right after a refresh: a read meeting key 9 must still get it
  EXPECT_TRUE(refresher.RefreshSoon());
  EXPECT_TRUE(env_.keyring_->HoldsDataKey(9));
  AddDataKey(10);
  EXPECT_TRUE(refresher.RefreshSoon());
  EXPECT_EQ(env_.keyring_->active_data_key_id(), 10u);
}

TEST_F(KeyringRefresherTest, ConcurrentRefreshSoonCallsAllSeeTheNewKey) {
  KeyringRefresher refresher(*env_.store_, provider_, *env_.keyring_);
  AddDataKey(9);
  std::vector<std::thread> readers;
  std::atomic<int> saw{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      if (refresher.RefreshSoon() && env_.keyring_->HoldsDataKey(9)) {
        ++saw;
      }
    });
  }
  for (std::thread& t : readers) {
    t.join();
  }
  EXPECT_EQ(saw.load(), 8);
  EXPECT_EQ(provider_.loads(), 1);  // one unwrap however many asked
}

TEST_F(KeyringRefresherTest, TheBackgroundThreadFollowsTheStoreAndStopsOnDestruction) {
  FakeMonotonicClock clock;
  std::atomic<int> changes{0};
  {
    KeyringRefresher refresher(*env_.store_, provider_, *env_.keyring_, clock);
    refresher.Start(std::chrono::seconds(2), [&](const StatusOr<bool>& r) {
      if (r.has_value() && *r) {
        ++changes;
      }
    });
    ASSERT_TRUE(clock.AwaitWaiting(1));
    AddDataKey(9);
    clock.Advance(std::chrono::milliseconds(1999));
    EXPECT_EQ(env_.keyring_->active_data_key_id(), 1u) << "not refreshed before the interval";
    // The interval's end: one refresh, after which the thread waits for the next.
    const uint64_t waits = clock.waits();
    clock.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(clock.AwaitWaits(waits + 1));
    EXPECT_EQ(env_.keyring_->active_data_key_id(), 9u);
    EXPECT_EQ(changes.load(), 1);
    // The next one finds nothing new, and says nothing.
    clock.Advance(std::chrono::seconds(2));
    ASSERT_TRUE(clock.AwaitWaits(waits + 2));
  }
  EXPECT_EQ(changes.load(), 1);
  // A retirement in the store (key 1 unused here) drops the key at the next refresh.
  ASSERT_TRUE(env_.store_->DeleteDataKey(1).ok());
  KeyringRefresher refresher(*env_.store_, provider_, *env_.keyring_);
  ASSERT_TRUE(refresher.RefreshNow().value());
  EXPECT_FALSE(env_.keyring_->HoldsDataKey(1));
}

}  // namespace
}  // namespace coffer
