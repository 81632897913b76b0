// Shamir's secret sharing: the field against FIPS-197's vectors and by its axioms, split and
// combine for every choice of k of n shares, a hand-computed split, fewer than k shares giving a
// key that does not open a keyring, and the printable share's check.
#include "crypto/shamir.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/keyring.h"

namespace coffer {
namespace {

// Fills with a fixed byte sequence, for a split computed by hand.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  Status Fill(std::span<uint8_t> out) override {
    for (uint8_t& b : out) b = bytes_[next_++ % bytes_.size()];
    return OkStatus();
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t next_ = 0;
};

SecretBuffer Bytes(std::initializer_list<uint8_t> bytes) {
  const std::vector<uint8_t> v(bytes);
  return SecretBuffer(v.data(), v.size());
}

// A fresh random root key.
SecretBuffer RandomKey(Random& random) {
  SecretBuffer key(kRootKeySize);
  EXPECT_TRUE(random.Fill({key.data(), key.size()}).ok());
  return key;
}

std::vector<ShamirShare> Pick(const std::vector<ShamirShare>& all, std::vector<size_t> which) {
  std::vector<ShamirShare> out;
  for (const size_t i : which) out.push_back({all[i].x, all[i].y.Clone()});
  return out;
}

TEST(GaloisFieldTest, MatchesFips197) {
  EXPECT_EQ(GfMultiply(0x57, 0x83), 0xc1);
  EXPECT_EQ(GfMultiply(0x57, 0x13), 0xfe);
  EXPECT_EQ(GfMultiply(0x57, 0x02), 0xae);
  EXPECT_EQ(GfMultiply(0x57, 0x04), 0x47);
  EXPECT_EQ(GfMultiply(0x57, 0x08), 0x8e);
  EXPECT_EQ(GfMultiply(0x57, 0x10), 0x07);
  EXPECT_EQ(GfInverse(0x53), 0xca);  // the S-box's worked example
  EXPECT_EQ(GfInverse(0), 0);
}

TEST(GaloisFieldTest, IsAFieldForEveryElement) {
  for (int a = 0; a < 256; ++a) {
    EXPECT_EQ(GfMultiply(static_cast<uint8_t>(a), 1), a);
    EXPECT_EQ(GfMultiply(static_cast<uint8_t>(a), 0), 0);
    if (a != 0) {
      EXPECT_EQ(GfMultiply(static_cast<uint8_t>(a), GfInverse(static_cast<uint8_t>(a))), 1);
    }
    for (int b = 0; b < 256; b += 7) {
      EXPECT_EQ(GfMultiply(static_cast<uint8_t>(a), static_cast<uint8_t>(b)),
                GfMultiply(static_cast<uint8_t>(b), static_cast<uint8_t>(a)));
    }
  }
}

TEST(ShamirTest, MatchesASplitComputedByHand) {
  // k = 2: y(x) = 0x2a + 0x07 x. y(1) = 0x2d, y(2) = 0x2a ^ 0x0e = 0x24, y(3) = 0x2a ^ 0x09 = 0x23.
  FixedRandom random({0x07});
  auto shares = ShamirSplit(Bytes({0x2a}), 3, 2, random);
  ASSERT_TRUE(shares.has_value());
  ASSERT_EQ(shares->size(), 3u);
  EXPECT_EQ((*shares)[0].x, 1);
  EXPECT_EQ((*shares)[0].y.data()[0], 0x2d);
  EXPECT_EQ((*shares)[1].y.data()[0], 0x24);
  EXPECT_EQ((*shares)[2].y.data()[0], 0x23);
  auto back = ShamirCombine(Pick(*shares, {2, 1}));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->data()[0], 0x2a);
}

TEST(ShamirTest, AnyKOfNGiveTheSecretBack) {
  SystemRandom random;
  const SecretBuffer secret = RandomKey(random);
  auto shares = ShamirSplit(secret, 5, 3, random);
  ASSERT_TRUE(shares.has_value());
  for (size_t a = 0; a < 5; ++a) {
    for (size_t b = a + 1; b < 5; ++b) {
      for (size_t c = b + 1; c < 5; ++c) {
        auto back = ShamirCombine(Pick(*shares, {c, a, b}));
        ASSERT_TRUE(back.has_value());
        EXPECT_TRUE(back->Equals(secret.span())) << a << b << c;
      }
    }
  }
  // More than k shares work too.
  auto all = ShamirCombine(Pick(*shares, {0, 1, 2, 3, 4}));
  ASSERT_TRUE(all.has_value());
  EXPECT_TRUE(all->Equals(secret.span()));
}

TEST(ShamirTest, BoundsOfKAndN) {
  SystemRandom random;
  const SecretBuffer secret = Bytes({1, 2, 3});
  EXPECT_FALSE(ShamirSplit(secret, 5, 1, random).has_value());
  EXPECT_FALSE(ShamirSplit(secret, 2, 3, random).has_value());
  EXPECT_FALSE(ShamirSplit(secret, 256, 2, random).has_value());
  EXPECT_FALSE(ShamirSplit(SecretBuffer(), 3, 2, random).has_value());
  auto max = ShamirSplit(secret, 255, 255, random);
  ASSERT_TRUE(max.has_value());
  auto back = ShamirCombine(*max);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->Equals(secret.span()));
  auto two = ShamirSplit(secret, 2, 2, random);
  ASSERT_TRUE(two.has_value());
  EXPECT_FALSE(ShamirCombine(Pick(*two, {0})).has_value());
  EXPECT_FALSE(ShamirCombine(Pick(*two, {0, 0})).has_value());  // one share twice
}

TEST(ShamirTest, FewerThanKSharesGiveAKeyThatDoesNotOpenTheKeyring) {
  SystemRandom random;
  const SecretBuffer root = RandomKey(random);
  auto keys = Keyring::CreateInitialKeys(root, random, 1);
  ASSERT_TRUE(keys.has_value());
  auto shares = ShamirSplit(root, 5, 3, random);
  ASSERT_TRUE(shares.has_value());

  auto two = ShamirCombine(Pick(*shares, {0, 3}));
  ASSERT_TRUE(two.has_value());
  EXPECT_FALSE(two->Equals(root.span()));
  auto wrong = NewBytesRootKey(std::move(*two), random, "shares");
  EXPECT_FALSE(Keyring::Verify(keys->front(), *wrong).ok());

  // A share of another split of the same key, mixed in, gives a wrong key too.
  auto other = ShamirSplit(root, 5, 3, random);
  ASSERT_TRUE(other.has_value());
  std::vector<ShamirShare> mixed = Pick(*shares, {0, 1});
  mixed.push_back({(*other)[2].x, (*other)[2].y.Clone()});
  auto mixed_key = ShamirCombine(mixed);
  ASSERT_TRUE(mixed_key.has_value());
  auto mixed_root = NewBytesRootKey(std::move(*mixed_key), random, "shares");
  EXPECT_FALSE(Keyring::Verify(keys->front(), *mixed_root).ok());

  auto three = ShamirCombine(Pick(*shares, {4, 0, 3}));
  ASSERT_TRUE(three.has_value());
  auto right = NewBytesRootKey(std::move(*three), random, "shares");
  EXPECT_TRUE(Keyring::Verify(keys->front(), *right).ok());
}

TEST(UnsealShareTest, RoundTripsAndCatchesMistypes) {
  SystemRandom random;
  const SecretBuffer root = RandomKey(random);
  auto shares = ShamirSplit(root, 12, 2, random);
  ASSERT_TRUE(shares.has_value());
  const SplitId split{0xde, 0xad, 0xbe, 0xef};
  const SecretBuffer text = EncodeUnsealShare(split, (*shares)[11]);
  EXPECT_TRUE(text.view().starts_with("cfr_share_12_deadbeef"));

  auto parsed = ParseUnsealShare("  " + std::string(text.view()) + "\n");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->split_id, split);
  EXPECT_EQ(parsed->share.x, 12);
  EXPECT_TRUE(parsed->share.y.Equals((*shares)[11].y.span()));

  std::string typo(text.view());
  typo[30] = typo[30] == 'a' ? 'b' : 'a';
  auto refused = ParseUnsealShare(typo);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message().find(typo), std::string::npos);  // never echoed
  std::string index(text.view());
  index[10] = '3';  // cfr_share_32_…: another index, the same digits
  EXPECT_FALSE(ParseUnsealShare(index).has_value());
  EXPECT_FALSE(ParseUnsealShare(std::string(text.view()).substr(0, text.size() - 2)).has_value());
  EXPECT_FALSE(ParseUnsealShare("cfr_share_0_00").has_value());
  EXPECT_FALSE(ParseUnsealShare("").has_value());
  EXPECT_FALSE(ParseUnsealShare("hello").has_value());
}

}  // namespace
}  // namespace coffer
