// Tests of the two-root-key provider: a keyring moved from one root key to the other is opened
// key by key with whichever sealed it, new keys are sealed with the one in use, and a root key
// that cannot be read does not stop the other.
#include "crypto/migrating_key_provider.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "crypto/keyring.h"

namespace coffer {
namespace {

constexpr char kOld[] = "COFFER_TEST_MIGRATING_OLD";
constexpr char kNew[] = "COFFER_TEST_MIGRATING_NEW";

class MigratingKeyProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv(kOld, std::string(64, 'a').c_str(), 1);
    ::setenv(kNew, std::string(64, 'b').c_str(), 1);
    old_root_ = *NewEnvKeyProvider(kOld)->OpenRootKey(random_);
    new_root_ = *NewEnvKeyProvider(kNew)->OpenRootKey(random_);
  }
  void TearDown() override {
    ::unsetenv(kOld);
    ::unsetenv(kNew);
  }
  std::unique_ptr<KeyProvider> Both() {
    return NewMigratingKeyProvider(NewEnvKeyProvider(kOld), NewEnvKeyProvider(kNew));
  }

  SystemRandom random_;
  std::shared_ptr<RootKey> old_root_;
  std::shared_ptr<RootKey> new_root_;
};

TEST_F(MigratingKeyProviderTest, FollowsAKeyringHalfwayAndAllTheWayToTheNextRootKey) {
  auto keys = Keyring::CreateInitialKeys(*old_root_, random_, 1);
  ASSERT_TRUE(keys.has_value()) << keys.error();
  std::unique_ptr<KeyProvider> both = Both();
  auto root = both->OpenRootKey(random_);
  ASSERT_TRUE(root.has_value()) << root.error();
  auto ring = Keyring::Unwrap(*keys, **root, random_);
  ASSERT_TRUE(ring.has_value()) << ring.error();
  // Half moved: one key under each root key.
  auto moved = Keyring::Reseal((*keys)[0], *old_root_, *new_root_);
  ASSERT_TRUE(moved.has_value());
  (*keys)[0] = *moved;
  EXPECT_TRUE(Keyring::Unwrap(*keys, **both->OpenRootKey(random_), random_).has_value());
  // All moved: a new key (a rotation after the migration) is sealed by the next root key, and
  // one made through the provider now is too.
  for (WrappedKey& key : *keys) {
    if (auto again = Keyring::Reseal(key, *old_root_, *new_root_); again.has_value()) key = *again;
  }
  auto rotated = Keyring::CreateKey(*new_root_, 4, kKeyPurposeData, random_, 2);
  ASSERT_TRUE(rotated.has_value());
  keys->push_back(*rotated);
  auto refreshed = (*ring)->RefreshDataKeys(*keys, **both->OpenRootKey(random_));
  ASSERT_TRUE(refreshed.has_value()) << refreshed.error();
  EXPECT_TRUE(*refreshed);
  EXPECT_EQ((*ring)->active_data_key_id(), 4u);
  auto made = Keyring::CreateKey(**both->OpenRootKey(random_), 5, kKeyPurposeData, random_, 3);
  ASSERT_TRUE(made.has_value());
  EXPECT_TRUE(Keyring::Verify(*made, *new_root_).ok());
  // The old root key removed: the next one serves alone.
  ::unsetenv(kOld);
  EXPECT_TRUE(Keyring::Unwrap(*keys, **both->OpenRootKey(random_), random_).has_value());
}

TEST_F(MigratingKeyProviderTest, AKeyNeitherRootKeySealedIsAMismatch) {
  ::setenv("COFFER_TEST_MIGRATING_OTHER", std::string(64, 'c').c_str(), 1);
  auto other = *NewEnvKeyProvider("COFFER_TEST_MIGRATING_OTHER")->OpenRootKey(random_);
  auto keys = Keyring::CreateInitialKeys(*other, random_, 1);
  ASSERT_TRUE(keys.has_value());
  auto ring = Keyring::Unwrap(*keys, **Both()->OpenRootKey(random_), random_);
  ASSERT_FALSE(ring.has_value());
  EXPECT_EQ(ring.error().code(), StatusCode::kFailedPrecondition);
  ::unsetenv("COFFER_TEST_MIGRATING_OTHER");
}

}  // namespace
}  // namespace coffer
