// Tests for the keyring: initial keys, unwrapping under the right and a wrong root key,
// encryption with the active data key, decryption across key rotation.
#include "crypto/keyring.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/status_matchers.h"
#include "crypto/aead.h"

namespace coffer {
namespace {

class KeyringTest : public ::testing::Test {
 protected:
  SecretBuffer NewRootKey() {
    SecretBuffer key(32);
    EXPECT_TRUE(random_->Fill({key.data(), key.size()}).ok());
    return key;
  }

  std::unique_ptr<Random> random_ = NewDeterministicRandom(77);
  SecretBuffer root_ = NewRootKey();
  std::vector<uint8_t> aad_ = SecretAad("vault", "secret", 1);
};

TEST_F(KeyringTest, InitialKeys) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 1234);
  ASSERT_TRUE(keys.has_value()) << keys.error();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].id, 1u);
  EXPECT_EQ((*keys)[0].purpose, kKeyPurposeData);
  EXPECT_EQ((*keys)[1].id, 2u);
  EXPECT_EQ((*keys)[1].purpose, kKeyPurposePepper);
  EXPECT_EQ((*keys)[2].id, 3u);
  EXPECT_EQ((*keys)[2].purpose, kKeyPurposeTokenSigning);
  for (const WrappedKey& k : *keys) {
    EXPECT_TRUE(k.active);
    EXPECT_EQ(k.created_at, 1234);
    EXPECT_EQ(k.wrapped.size(), 32 + kBlobOverhead);
    auto id = AeadBlobKeyId(k.wrapped);
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(*id, 0u) << "wrapped under the root key";
  }
}

TEST_F(KeyringTest, UnwrapAndRoundTrip) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring.has_value()) << ring.error();
  EXPECT_EQ((*ring)->active_data_key_id(), 1u);
  EXPECT_EQ((*ring)->pepper().size(), 32u);
  EXPECT_EQ((*ring)->TokenPublicKeys(0, 0).size(), 1u);

  auto blob = (*ring)->Encrypt(AsBytes("hunter2"), aad_);
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ(*AeadBlobKeyId(*blob), 1u);
  auto plain = (*ring)->Decrypt(*blob, aad_);
  ASSERT_TRUE(plain.has_value()) << plain.error();
  EXPECT_EQ(plain->view(), "hunter2");

  // A second unwrap of the same rows yields the same keys.
  auto again = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)->Decrypt(*blob, aad_)->view(), "hunter2");
  EXPECT_TRUE((*again)->pepper().Equals((*ring)->pepper().span()));
}

TEST_F(KeyringTest, WrongRootKeyRefused) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  SecretBuffer other = NewRootKey();
  auto ring = Keyring::Unwrap(*keys, other, *random_);
  EXPECT_THAT(
      ring,
      StatusIs(StatusCode::kFailedPrecondition,
               "root key does not match this data directory (the keyring cannot be unwrapped)"));
}

TEST_F(KeyringTest, RelabelledOrTamperedKeyRefused) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  {
    auto swapped = *keys;  // the JWT key's row presented as the pepper
    std::swap(swapped[1].wrapped, swapped[2].wrapped);
    auto ring = Keyring::Unwrap(swapped, root_, *random_);
    EXPECT_THAT(ring, StatusIs(StatusCode::kFailedPrecondition));
  }
  {
    auto renumbered = *keys;
    renumbered[0].id = 9;
    EXPECT_FALSE(Keyring::Unwrap(renumbered, root_, *random_).has_value());
  }
  {
    auto tampered = *keys;
    tampered[0].wrapped[20] ^= 1;
    EXPECT_FALSE(Keyring::Unwrap(tampered, root_, *random_).has_value());
  }
}

TEST_F(KeyringTest, MissingPurposeRefused) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  // The data key and the pepper are required; a missing token key is added at server start
  // (AKeyringWithoutATokenKeyCannotSign).
  for (size_t drop = 0; drop < 2; ++drop) {
    auto partial = *keys;
    partial.erase(partial.begin() + static_cast<ptrdiff_t>(drop));
    auto ring = Keyring::Unwrap(partial, root_, *random_);
    EXPECT_THAT(ring, StatusIs(StatusCode::kFailedPrecondition));
  }
  auto inactive = *keys;
  inactive[0].active = false;
  EXPECT_FALSE(Keyring::Unwrap(inactive, root_, *random_).has_value());
  EXPECT_FALSE(Keyring::Unwrap({}, root_, *random_).has_value());
}

TEST_F(KeyringTest, DuplicateIdRefused) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  keys->push_back((*keys)[0]);
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  EXPECT_THAT(ring, StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(KeyringTest, RotationKeepsOldKeysReadable) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  auto ring1 = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring1.has_value());
  auto old_blob = (*ring1)->Encrypt(AsBytes("old value"), aad_);
  ASSERT_TRUE(old_blob.has_value());

  auto new_key = Keyring::CreateKey(root_, 4, kKeyPurposeData, *random_, 10);
  ASSERT_TRUE(new_key.has_value());
  (*keys)[0].active = false;
  keys->push_back(std::move(*new_key));
  auto ring2 = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring2.has_value()) << ring2.error();
  EXPECT_EQ((*ring2)->active_data_key_id(), 4u);

  auto new_blob = (*ring2)->Encrypt(AsBytes("new value"), aad_);
  ASSERT_TRUE(new_blob.has_value());
  EXPECT_EQ(*AeadBlobKeyId(*new_blob), 4u);
  EXPECT_EQ((*ring2)->Decrypt(*new_blob, aad_)->view(), "new value");
  EXPECT_EQ((*ring2)->Decrypt(*old_blob, aad_)->view(), "old value");

  // The old keyring does not hold key 4.
  auto unknown = (*ring1)->Decrypt(*new_blob, aad_);
  EXPECT_THAT(unknown, StatusIs(StatusCode::kDataLoss));
}

TEST_F(KeyringTest, NewestActiveKeyWinsWhenSeveralAreActive) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  auto newer = Keyring::CreateKey(root_, 9, kKeyPurposeData, *random_, 0);
  ASSERT_TRUE(newer.has_value());
  keys->insert(keys->begin(), std::move(*newer));
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring.has_value());
  EXPECT_EQ((*ring)->active_data_key_id(), 9u);
}

TEST_F(KeyringTest, DecryptRefusesTamperingAndWrongPlace) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring.has_value());
  auto blob = (*ring)->Encrypt(AsBytes("value"), aad_);
  ASSERT_TRUE(blob.has_value());
  for (size_t i = 0; i < blob->size(); ++i) {
    auto tampered = *blob;
    tampered[i] ^= 0x40;
    auto out = (*ring)->Decrypt(tampered, aad_);
    EXPECT_THAT(out, StatusIs(StatusCode::kDataLoss)) << "byte " << i;
  }
  auto moved = (*ring)->Decrypt(*blob, SecretAad("vault", "other", 1));
  EXPECT_THAT(moved, StatusIs(StatusCode::kDataLoss));
}

TEST_F(KeyringTest, CreateKeyRejectsBadInput) {
  EXPECT_THAT(Keyring::CreateKey(root_, 0, kKeyPurposeData, *random_, 0),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Keyring::CreateKey(root_, 5, "nonsense", *random_, 0),
              StatusIs(StatusCode::kInvalidArgument));
  SecretBuffer short_root(16);
  EXPECT_FALSE(Keyring::CreateKey(short_root, 5, kKeyPurposeData, *random_, 0).has_value());
}

}  // namespace
}  // namespace coffer

namespace coffer {
namespace {

// A running server's keyring follows a rotation and a retirement done by another process.
TEST_F(KeyringTest, RefreshAddsNewDataKeysMakesTheNewestActiveAndDropsRetiredOnes) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring.has_value());
  Keyring& k = **ring;
  auto old_blob = k.Encrypt(AsBytes("old value"), aad_);
  ASSERT_TRUE(old_blob.has_value());
  EXPECT_TRUE(k.DataKeysMatch(*keys));
  auto unchanged = k.RefreshDataKeys(*keys, root_);
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_FALSE(*unchanged);

  // Rotation: key 4 becomes the active data key, key 1 stays as an old one.
  auto rotated = *keys;
  rotated[0].active = false;
  auto key4 = Keyring::CreateKey(root_, 4, kKeyPurposeData, *random_, 10);
  ASSERT_TRUE(key4.has_value());
  rotated.push_back(*key4);
  EXPECT_FALSE(k.DataKeysMatch(rotated));
  EXPECT_FALSE(k.HoldsDataKey(4));
  auto changed = k.RefreshDataKeys(rotated, root_);
  ASSERT_TRUE(changed.has_value()) << changed.error();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(k.active_data_key_id(), 4u);
  EXPECT_TRUE(k.HoldsDataKey(1));
  EXPECT_TRUE(k.DataKeysMatch(rotated));
  auto new_blob = k.Encrypt(AsBytes("new value"), aad_);
  ASSERT_TRUE(new_blob.has_value());
  EXPECT_EQ(*AeadBlobKeyId(*new_blob), 4u);
  EXPECT_EQ(k.Decrypt(*old_blob, aad_)->view(), "old value");

  // A new key that does not unwrap under the root key changes nothing.
  auto bad = rotated;
  auto key5 = Keyring::CreateKey(NewRootKey(), 5, kKeyPurposeData, *random_, 20);
  ASSERT_TRUE(key5.has_value());
  bad.back().active = false;
  bad.push_back(*key5);
  auto refused = k.RefreshDataKeys(bad, root_);
  EXPECT_THAT(refused, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(k.active_data_key_id(), 4u);
  EXPECT_FALSE(k.HoldsDataKey(5));

  // Retirement: key 1 is gone from the store, so from the keyring; its blobs no longer open.
  auto retired = rotated;
  retired.erase(retired.begin());
  ASSERT_TRUE(k.RefreshDataKeys(retired, root_).value());
  EXPECT_FALSE(k.HoldsDataKey(1));
  EXPECT_THAT(k.Decrypt(*old_blob, aad_), StatusIs(StatusCode::kDataLoss));
  EXPECT_EQ(k.Decrypt(*new_blob, aad_)->view(), "new value");
  // The pepper and token keys are not touched by a data key refresh.
  EXPECT_EQ(k.pepper().size(), 32u);
  EXPECT_EQ(k.TokenPublicKeys(0, 0).size(), 1u);
}

TEST_F(KeyringTest, RefreshRefusesAKeyringWithoutAnActiveDataKey) {
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 0);
  ASSERT_TRUE(keys.has_value());
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring.has_value());
  auto none = *keys;
  none[0].active = false;
  auto refused = (*ring)->RefreshDataKeys(none, root_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ((*ring)->active_data_key_id(), 1u);
}

JwtClaims TestClaims(UnixMicros now) {
  JwtClaims c;
  c.subject = "u-1";
  c.principal_kind = "user";
  c.credential_id = "pub";
  c.token_id = "t";
  c.issued_at = now;
  c.expires_at = now + 900 * kMicrosPerSecond;
  return c;
}

TEST_F(KeyringTest, TokenKeyRotationKeepsThePreviousKeyForOneTokenLifetime) {
  constexpr UnixMicros kLifetime = 900 * kMicrosPerSecond;
  auto keys = Keyring::CreateInitialKeys(root_, *random_, 1000);
  ASSERT_TRUE(keys.has_value());
  auto ring = Keyring::Unwrap(*keys, root_, *random_);
  ASSERT_TRUE(ring.has_value());
  Keyring& k = **ring;
  // Rotation at t1: key 4 becomes current (the store deactivates key 3). The old token was
  // signed just before, and lives (as a token signed with a longer lifetime would) past the
  // window its key is kept for.
  const UnixMicros t1 = 10 * kMicrosPerSecond;
  const UnixMicros t0 = t1 - kMicrosPerSecond;
  JwtClaims old_claims = TestClaims(t0);
  old_claims.expires_at = t1 + 2 * kLifetime;
  auto old_token = k.SignToken(old_claims);
  ASSERT_THAT(old_token, IsOk());
  const std::string old_kid = k.TokenPublicKeys(t0, kLifetime).at(0).kid;

  auto rotated = *keys;
  auto added = Keyring::CreateKey(root_, 4, kKeyPurposeTokenSigning, *random_, t1);
  ASSERT_TRUE(added.has_value());
  rotated[2].active = false;
  rotated.push_back(*added);
  EXPECT_FALSE(k.TokenKeysMatch(rotated));
  ASSERT_TRUE(k.RefreshTokenKeys(rotated, root_).value());
  EXPECT_TRUE(k.TokenKeysMatch(rotated));
  EXPECT_FALSE(k.RefreshTokenKeys(rotated, root_).value());

  auto published = k.TokenPublicKeys(t1, kLifetime);
  ASSERT_EQ(published.size(), 2u);
  EXPECT_TRUE(published[0].current);
  EXPECT_EQ(published[0].id, 4u);
  EXPECT_NE(published[0].kid, old_kid);
  EXPECT_EQ(published[1].kid, old_kid);
  EXPECT_FALSE(published[1].current);

  // New tokens carry the new kid; the old token still verifies until the lifetime has passed.
  auto new_token = k.SignToken(TestClaims(t1));
  ASSERT_THAT(new_token, IsOk());
  EXPECT_THAT(k.VerifyToken(*new_token, t1, kLifetime), IsOk());
  EXPECT_THAT(k.VerifyToken(*old_token, t1, kLifetime), IsOk());
  EXPECT_THAT(k.VerifyToken(*old_token, t1 + kLifetime - 1, kLifetime), IsOk());
  // After one lifetime the old key is no longer accepted nor published: no token it signed
  // outlives it, whatever its expiry says.
  EXPECT_THAT(k.VerifyToken(*old_token, t1 + kLifetime, kLifetime),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(k.TokenPublicKeys(t1 + kLifetime, kLifetime).size(), 1u);

  // Dropped from the store: dropped from the keyring.
  rotated.erase(rotated.begin() + 2);
  ASSERT_TRUE(k.RefreshTokenKeys(rotated, root_).value());
  EXPECT_THAT(k.VerifyToken(*old_token, t1, kLifetime), StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(k.VerifyToken(*new_token, t1, kLifetime), IsOk());
}

TEST_F(KeyringTest, AKeyringWithoutATokenKeyCannotSign) {
  // A store from before Ed25519 tokens: data, pepper and the old HS256 key.
  std::vector<WrappedKey> keys;
  uint32_t id = 1;
  for (const std::string_view purpose : {kKeyPurposeData, kKeyPurposePepper, kKeyPurposeJwt}) {
    auto key = Keyring::CreateKey(root_, id++, purpose, *random_, 0);
    ASSERT_TRUE(key.has_value());
    keys.push_back(*key);
  }
  auto ring = Keyring::Unwrap(keys, root_, *random_);
  ASSERT_TRUE(ring.has_value()) << ring.error();
  EXPECT_THAT((*ring)->SignToken(TestClaims(0)), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_TRUE((*ring)->TokenPublicKeys(0, 0).empty());
  auto added = Keyring::CreateKey(root_, 4, kKeyPurposeTokenSigning, *random_, 0);
  ASSERT_TRUE(added.has_value());
  keys.push_back(*added);
  ASSERT_TRUE((*ring)->RefreshTokenKeys(keys, root_).value());
  EXPECT_THAT((*ring)->SignToken(TestClaims(0)), IsOk());
}

}  // namespace
}  // namespace coffer
