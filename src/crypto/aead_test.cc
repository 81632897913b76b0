// Tests for AES-256-GCM blobs: round trips, the blob layout, and that every kind of tampering,
// truncation, wrong key or wrong associated data is refused with one fixed kDataLoss message.
#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_set>

#include "common/bytes.h"
#include "common/status_matchers.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

SecretBuffer KeyFrom(Random& random) {
  SecretBuffer key(kAeadKeySize);
  EXPECT_TRUE(random.Fill({key.data(), key.size()}).ok());
  return key;
}

class AeadTest : public ::testing::Test {
 protected:
  std::unique_ptr<Random> random_ = NewDeterministicRandom(1234);
  SecretBuffer key_ = KeyFrom(*random_);
  std::vector<uint8_t> aad_ = SecretAad("vault-1", "secret-1", 3);
};

void ExpectOpenFails(const StatusOr<SecretBuffer>& opened, const std::string& expected_message) {
  EXPECT_THAT(opened, StatusIs(StatusCode::kDataLoss, expected_message));
}

TEST_F(AeadTest, RoundTrip) {
  for (const std::string_view plaintext : {"", "x", "sk-live-1234567890", "a longer value\n\0x"}) {
    auto blob = AeadSeal(key_, 7, AsBytes(plaintext), aad_, *random_);
    ASSERT_TRUE(blob.has_value()) << blob.error();
    EXPECT_EQ(blob->size(), plaintext.size() + kBlobOverhead);
    auto opened = AeadOpen(key_, *blob, aad_);
    ASSERT_TRUE(opened.has_value()) << opened.error();
    EXPECT_EQ(opened->view(), plaintext);
  }
}

TEST_F(AeadTest, LargeValueRoundTrip) {
  std::string plaintext(1 << 20, 'v');
  auto blob = AeadSeal(key_, 1, AsBytes(plaintext), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  auto opened = AeadOpen(key_, *blob, aad_);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->view(), plaintext);
}

TEST_F(AeadTest, BlobLayout) {
  auto blob = AeadSeal(key_, 0x01020304, AsBytes("hello"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ((*blob)[0], kBlobFormatV1);
  EXPECT_EQ((*blob)[1], 0x01);
  EXPECT_EQ((*blob)[2], 0x02);
  EXPECT_EQ((*blob)[3], 0x03);
  EXPECT_EQ((*blob)[4], 0x04);
  auto id = AeadBlobKeyId(*blob);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, 0x01020304u);
  // The plaintext does not appear in the blob.
  const std::string raw(blob->begin(), blob->end());
  EXPECT_EQ(raw.find("hello"), std::string::npos);
}

TEST_F(AeadTest, SameInputSealsDifferently) {
  auto a = AeadSeal(key_, 1, AsBytes("same"), aad_, *random_);
  auto b = AeadSeal(key_, 1, AsBytes("same"), aad_, *random_);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);
}

// A million seals under one key with the real random source: no 96-bit nonce repeats (a
// repeat under one key breaks GCM). With random nonces a repeat here has probability ~2^-57, so
// a failure means the source or the sealing is broken, not bad luck. Each nonce is also not
// all zeros and not the previous one plus one (a counter in disguise).
TEST_F(AeadTest, NoncesUniqueOverAMillionSeals) {
  constexpr size_t kSeals = 1'000'000;
  SystemRandom system;
  std::unordered_set<std::string> nonces;
  nonces.reserve(kSeals);
  const uint8_t plaintext[1] = {'x'};
  const std::string zeros(kAeadNonceSize, '\0');
  size_t sequential = 0;
  std::string previous;
  for (size_t i = 0; i < kSeals; ++i) {
    auto blob = AeadSeal(key_, 1, plaintext, {}, system);
    ASSERT_TRUE(blob.has_value());
    std::string nonce(blob->begin() + 5, blob->begin() + 5 + kAeadNonceSize);
    ASSERT_NE(nonce, zeros);
    if (!previous.empty() &&
        static_cast<uint8_t>(nonce.back()) ==
            static_cast<uint8_t>(static_cast<uint8_t>(previous.back()) + 1) &&
        nonce.compare(0, kAeadNonceSize - 1, previous, 0, kAeadNonceSize - 1) == 0) {
      ++sequential;
    }
    previous = nonce;
    ASSERT_TRUE(nonces.insert(std::move(nonce)).second) << "nonce repeated at seal " << i;
  }
  EXPECT_EQ(nonces.size(), kSeals);
  EXPECT_EQ(sequential, 0u);
}

TEST_F(AeadTest, EveryFlippedBitPositionIsRefused) {
  auto blob = AeadSeal(key_, 5, AsBytes("top secret value"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  auto reference = AeadOpen(key_, *blob, aad_);
  ASSERT_TRUE(reference.has_value());
  std::vector<uint8_t> bad = *blob;
  bad.back() ^= 1;
  auto refused = AeadOpen(key_, bad, aad_);
  ASSERT_THAT(refused, StatusIs(StatusCode::kDataLoss, Not(HasSubstr("top secret"))));
  const std::string message = refused.error().message();
  for (size_t i = 0; i < blob->size(); ++i) {
    for (const uint8_t flip : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> tampered = *blob;
      tampered[i] ^= flip;
      ExpectOpenFails(AeadOpen(key_, tampered, aad_), message);
    }
  }
}

TEST_F(AeadTest, TruncationAndExtensionRefused) {
  auto blob = AeadSeal(key_, 5, AsBytes("value"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  auto empty = AeadOpen(key_, {}, aad_);
  ASSERT_THAT(empty, StatusIs(StatusCode::kDataLoss));
  const std::string message = empty.error().message();
  for (size_t n = 0; n < blob->size(); ++n) {
    ExpectOpenFails(AeadOpen(key_, std::span(*blob).first(n), aad_), message);
  }
  std::vector<uint8_t> longer = *blob;
  longer.push_back(0);
  ExpectOpenFails(AeadOpen(key_, longer, aad_), message);
}

TEST_F(AeadTest, WrongKeyRefused) {
  auto blob = AeadSeal(key_, 5, AsBytes("value"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  SecretBuffer other = KeyFrom(*random_);
  auto opened = AeadOpen(other, *blob, aad_);
  EXPECT_THAT(opened, StatusIs(StatusCode::kDataLoss));
}

TEST_F(AeadTest, BlobCopiedToAnotherPlaceRefused) {
  auto blob = AeadSeal(key_, 5, AsBytes("value"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  for (const auto& other :
       {SecretAad("vault-2", "secret-1", 3), SecretAad("vault-1", "secret-2", 3),
        SecretAad("vault-1", "secret-1", 4), std::vector<uint8_t>{}}) {
    auto opened = AeadOpen(key_, *blob, other);
    EXPECT_THAT(opened, StatusIs(StatusCode::kDataLoss));
  }
}

TEST_F(AeadTest, UnknownFormatRefused) {
  auto blob = AeadSeal(key_, 5, AsBytes("value"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  (*blob)[0] = 0x02;
  EXPECT_THAT(AeadOpen(key_, *blob, aad_), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(AeadBlobKeyId(*blob), StatusIs(StatusCode::kDataLoss));
  EXPECT_THAT(AeadBlobKeyId(std::span(*blob).first(kBlobOverhead - 1)),
              StatusIs(StatusCode::kDataLoss));
}

TEST_F(AeadTest, WrongKeySizeIsInvalidArgument) {
  SecretBuffer short_key(16);
  EXPECT_THAT(AeadSeal(short_key, 1, AsBytes("v"), aad_, *random_),
              StatusIs(StatusCode::kInvalidArgument));
  auto blob = AeadSeal(key_, 1, AsBytes("v"), aad_, *random_);
  ASSERT_TRUE(blob.has_value());
  EXPECT_THAT(AeadOpen(short_key, *blob, aad_), StatusIs(StatusCode::kInvalidArgument));
}

TEST(SecretAadTest, Layout) {
  const std::vector<uint8_t> aad = SecretAad("ab", "c", 0x0102030405060708);
  std::string expected = "coffer/secret/v1";
  expected += std::string("\0\0\0\2ab", 6);
  expected += std::string("\0\0\0\1c", 5);
  expected += std::string("\1\2\3\4\5\6\7\x08", 8);
  EXPECT_EQ(std::string(aad.begin(), aad.end()), expected);
}

TEST(SecretAadTest, FieldsCannotBeShiftedIntoEachOther) {
  EXPECT_NE(SecretAad("ab", "c", 1), SecretAad("a", "bc", 1));
  EXPECT_NE(SecretAad("", "abc", 1), SecretAad("abc", "", 1));
  EXPECT_NE(SecretAad("a", "b", 1), SecretAad("a", "b", 2));
  EXPECT_NE(SecretAad("a", "b", 1), SecretAad("a", "b", -1));
  EXPECT_EQ(SecretAad("a", "b", 1), SecretAad("a", "b", 1));
}

}  // namespace
}  // namespace coffer
