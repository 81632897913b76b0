// Tests for the keyring's peppers: several held at once (a rotation), chained HMACs, the pepper
// new hashes are made under (after it settles), and refreshing peppers in and out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "crypto/api_token.h"
#include "crypto/keyring.h"

namespace coffer {
namespace {

std::string_view View(const std::vector<uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

class KeyringPepperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(random_->Fill({root_.data(), root_.size()}).ok());
    keys_ = Keyring::CreateInitialKeys(root_, *random_, kStart).value();
    ring_ = Keyring::Unwrap(keys_, root_, *random_).value();
  }
  // Adds pepper `id`, made at `at`, as the active one (as Store::InsertKey does).
  void Rotate(uint32_t id, UnixMicros at) {
    for (WrappedKey& k : keys_) {
      if (k.purpose == kKeyPurposePepper) k.active = false;
    }
    keys_.push_back(Keyring::CreateKey(root_, id, kKeyPurposePepper, *random_, at).value());
    ASSERT_TRUE(ring_->RefreshPeppers(keys_, root_).value());
  }

  static constexpr UnixMicros kStart = 1'000'000;
  std::unique_ptr<Random> random_ = NewDeterministicRandom(19);
  SecretBuffer root_{32};
  std::vector<WrappedKey> keys_;
  std::unique_ptr<Keyring> ring_;
};

TEST_F(KeyringPepperTest, OnePepperMacsAsHmacSecret) {
  EXPECT_EQ(ring_->active_pepper_id(), 2u);
  EXPECT_EQ(ring_->PepperIds(), std::vector<uint32_t>{2});
  const std::vector<uint32_t> chain{2};
  EXPECT_EQ(ring_->PepperMac(chain, "secret").value(), HmacSecret(ring_->pepper(), "secret"));
  EXPECT_THAT(ring_->PepperMac(std::vector<uint32_t>{}, "secret"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ring_->PepperMac(std::vector<uint32_t>{9}, "secret"),
              StatusIs(StatusCode::kNotFound));
  // A new store: the only pepper is the writing one before it has settled.
  EXPECT_EQ(ring_->WritingPepperId(kStart), 2u);
}

TEST_F(KeyringPepperTest, TwoPeppersChainAndSettle) {
  const std::vector<uint8_t> old_mac = ring_->PepperMac(std::vector<uint32_t>{2}, "s").value();
  const UnixMicros rotated_at = kStart + 100 * kMicrosPerSecond;
  Rotate(9, rotated_at);
  EXPECT_EQ(ring_->active_pepper_id(), 9u);
  EXPECT_EQ(ring_->PepperIds(), (std::vector<uint32_t>{2, 9}));
  EXPECT_FALSE(ring_->PepperKey(9).Equals(ring_->PepperKey(2).span()));
  // Both peppers verify; the old hash is unchanged.
  EXPECT_EQ(ring_->PepperMac(std::vector<uint32_t>{2}, "s").value(), old_mac);
  const std::vector<uint8_t> new_mac = ring_->PepperMac(std::vector<uint32_t>{9}, "s").value();
  EXPECT_NE(new_mac, old_mac);
  // A chain is the outer pepper's HMAC of the inner hash: what a rewrap computes from the
  // stored hash alone equals what a lookup computes from the key.
  const std::vector<uint8_t> chained = ring_->PepperMac(std::vector<uint32_t>{2, 9}, "s").value();
  EXPECT_EQ(chained, ring_->PepperMac(std::vector<uint32_t>{9}, View(old_mac)).value());
  EXPECT_NE(chained, new_mac);
  // New hashes are made under the new pepper only once every server may hold it.
  EXPECT_EQ(ring_->WritingPepperId(rotated_at), 2u);
  EXPECT_EQ(ring_->WritingPepperId(rotated_at + kPepperSettle - 1), 2u);
  EXPECT_EQ(ring_->WritingPepperId(rotated_at + kPepperSettle), 9u);
}

TEST_F(KeyringPepperTest, RefreshMatchesAndDropsRetired) {
  EXPECT_TRUE(ring_->PeppersMatch(keys_));
  EXPECT_FALSE(ring_->RefreshPeppers(keys_, root_).value());
  Rotate(5, kStart);
  EXPECT_TRUE(ring_->PeppersMatch(keys_));
  // Retiring pepper 2: it is dropped, and hashes under it no longer verify.
  std::erase_if(keys_, [](const WrappedKey& k) { return k.id == 2; });
  EXPECT_FALSE(ring_->PeppersMatch(keys_));
  ASSERT_TRUE(ring_->RefreshPeppers(keys_, root_).value());
  EXPECT_EQ(ring_->PepperIds(), std::vector<uint32_t>{5});
  EXPECT_THAT(ring_->PepperMac(std::vector<uint32_t>{2, 5}, "s"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(ring_->WritingPepperId(kStart), 5u);
  // A keyring with no active pepper is refused, and the peppers held are unchanged.
  for (WrappedKey& k : keys_) {
    if (k.purpose == kKeyPurposePepper) k.active = false;
  }
  EXPECT_THAT(ring_->RefreshPeppers(keys_, root_), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(ring_->active_pepper_id(), 5u);
}

}  // namespace
}  // namespace coffer
