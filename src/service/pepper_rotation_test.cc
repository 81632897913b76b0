// Pepper rotation at the service level: API keys, agent keys, rotation secrets and share links
// made under one pepper keep working after another becomes active, move to it when next used
// (once it has settled), and still work when chained under it by a rewrap; a retired pepper's
// keys stop working.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "crypto/api_token.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

std::string_view View(const std::vector<uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

class PepperRotationTest : public ::testing::Test {
 protected:
  // Adds a new active pepper to the store and the keyring (coffer keys rotate-pepper, then a
  // refresh); returns its id.
  uint32_t RotatePepper() {
    std::vector<WrappedKey> keys = env_.store_->LoadKeys().value();
    uint32_t next = 1;
    for (const WrappedKey& k : keys) next = std::max(next, k.id + 1);
    auto key = Keyring::CreateKey(env_.root_key_, next, kKeyPurposePepper, env_.random_,
                                  env_.clock_.Now());
    EXPECT_TRUE(key.has_value());
    EXPECT_TRUE(env_.store_->InsertKey(*key).ok());
    Refresh();
    return next;
  }
  void Refresh() {
    EXPECT_TRUE(
        env_.keyring_->RefreshPeppers(env_.store_->LoadKeys().value(), env_.root_key_).has_value());
  }
  Credential StoredCredential(const SecretBuffer& token) {
    return env_.store_->GetCredential(ParseToken(token.view()).value().public_id).value();
  }
  // The token of a share URL (…/v1/share/<token>).
  static std::string ShareToken(const SecretBuffer& url) {
    const std::string_view v = url.view();
    return std::string(v.substr(v.rfind('/') + 1));
  }
  std::string NewShare() {
    const std::string vault = env_.NewVault("pepper");
    PutSecretRequest put;
    put.type = "password";
    put.value = SecretBuffer(std::string_view("hunter2"));
    auto version = env_.secrets_->Put(env_.AdminCtx(), vault, "db/password", std::move(put));
    EXPECT_TRUE(version.has_value());
    CreateShareRequest request;
    request.recipient_type = std::string(kShareRecipientAnyoneWithLink);
    request.expires_at = env_.clock_.Now() + 3600 * kMicrosPerSecond;
    auto created = env_.shares_->Create(env_.AdminCtx(), version->secret_id, std::move(request));
    EXPECT_TRUE(created.has_value()) << created.error();
    return ShareToken(created->share_url);
  }
  StatusOr<RedeemedShare> Redeem(const std::string& token) {
    return env_.shares_->Redeem({Principal{}, "req-share", "127.0.0.9"}, token);
  }

  ServiceTestEnv env_;
};

TEST_F(PepperRotationTest, EveryKeyMovesToTheNewPepperWhenNextUsed) {
  const uint32_t old_pepper = env_.keyring_->active_pepper_id();
  auto agent = env_.agents_->Create(env_.AdminCtx(), {"bot", ""});
  ASSERT_TRUE(agent.has_value()) << agent.error();
  const std::string share = NewShare();
  EXPECT_EQ(StoredCredential(env_.admin_key_).pepper_ids, std::vector<uint32_t>{old_pepper});

  const uint32_t new_pepper = RotatePepper();
  ASSERT_NE(new_pepper, old_pepper);
  // Before the new pepper settles, keys verify and stay where they are.
  ASSERT_TRUE(env_.auth_->Verify(env_.admin_key_.view(), kTokenKindApiKey).has_value());
  EXPECT_EQ(StoredCredential(env_.admin_key_).pepper_ids, std::vector<uint32_t>{old_pepper});

  env_.clock_.Advance(kPepperSettle);
  const std::vector<uint32_t> moved{new_pepper};
  for (const auto& [token, kind] :
       {std::pair{&env_.admin_key_, kTokenKindApiKey}, std::pair{&agent->api_key, kTokenKindApiKey},
        std::pair{&agent->rotation_secret, kTokenKindRotation}}) {
    ASSERT_TRUE(env_.auth_->Verify(token->view(), kind).has_value());
    const Credential stored = StoredCredential(*token);
    EXPECT_EQ(stored.pepper_ids, moved);
    const std::string secret(ParseToken(token->view()).value().secret.view());
    EXPECT_EQ(stored.secret_hmac, env_.keyring_->PepperMac(moved, secret).value());
    // And it verifies from its new place.
    EXPECT_TRUE(env_.auth_->Verify(token->view(), kind).has_value());
  }
  auto redeemed = Redeem(share);
  ASSERT_TRUE(redeemed.has_value()) << redeemed.error();
  EXPECT_EQ(redeemed->share.pepper_ids, moved);
  EXPECT_EQ(env_.store_->GetShare(redeemed->share.id)->pepper_ids, moved);
  EXPECT_TRUE(Redeem(share).has_value());
  // New keys are made under the new pepper.
  auto fresh = env_.agents_->Create(env_.AdminCtx(), {"bot2", ""});
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(StoredCredential(fresh->api_key).pepper_ids, moved);
  // A wrong secret is still refused.
  auto other = MintToken(kTokenKindApiKey, env_.keyring_->pepper(), env_.random_).value();
  EXPECT_THAT(env_.auth_->Verify(other.token.view(), kTokenKindApiKey),
              StatusIs(StatusCode::kUnauthenticated));
  // Nothing needs the old pepper: it is retired, and every key still works.
  ASSERT_TRUE(env_.store_->DeleteInactiveKey(old_pepper, kKeyPurposePepper).ok());
  Refresh();
  EXPECT_EQ(env_.keyring_->PepperIds(), moved);
  EXPECT_TRUE(env_.auth_->Verify(env_.admin_key_.view(), kTokenKindApiKey).has_value());
  EXPECT_TRUE(env_.auth_->Verify(agent->rotation_secret.view(), kTokenKindRotation).has_value());
  EXPECT_TRUE(Redeem(share).has_value());
}

TEST_F(PepperRotationTest, ChainedHashesVerifyAndMoveOnUse) {
  const uint32_t old_pepper = env_.keyring_->active_pepper_id();
  const std::string share = NewShare();
  const uint32_t new_pepper = RotatePepper();
  env_.clock_.Advance(kPepperSettle);
  // What `coffer keys rewrap-pepper` does, from the stored hashes alone.
  const std::vector<uint32_t> outer{new_pepper};
  const std::vector<uint32_t> chain{old_pepper, new_pepper};
  const Credential before = StoredCredential(env_.admin_key_);
  ASSERT_TRUE(env_.store_
                  ->ReplacePepperHash(
                      PepperHashKind::kCredential, before.public_id, before.secret_hmac,
                      env_.keyring_->PepperMac(outer, View(before.secret_hmac)).value(), chain)
                  .ok());
  auto shares = env_.store_->ListPepperHashes(PepperHashKind::kShare, "", 10).value();
  ASSERT_EQ(shares.size(), 1u);
  ASSERT_TRUE(env_.store_
                  ->ReplacePepperHash(PepperHashKind::kShare, shares[0].id, shares[0].hmac,
                                      env_.keyring_->PepperMac(outer, View(shares[0].hmac)).value(),
                                      chain)
                  .ok());
  EXPECT_EQ(StoredCredential(env_.admin_key_).pepper_ids, chain);
  // Chained, they verify, and move to the new pepper alone.
  ASSERT_TRUE(env_.auth_->Verify(env_.admin_key_.view(), kTokenKindApiKey).has_value());
  EXPECT_EQ(StoredCredential(env_.admin_key_).pepper_ids, outer);
  auto redeemed = Redeem(share);
  ASSERT_TRUE(redeemed.has_value()) << redeemed.error();
  EXPECT_EQ(env_.store_->GetShare(shares[0].id)->pepper_ids, outer);
}

TEST_F(PepperRotationTest, ARetiredPeppersKeysStopWorking) {
  const uint32_t old_pepper = env_.keyring_->active_pepper_id();
  const std::string share = NewShare();
  RotatePepper();
  env_.clock_.Advance(kPepperSettle);
  ASSERT_TRUE(env_.store_->DeleteInactiveKey(old_pepper, kKeyPurposePepper).ok());
  Refresh();
  EXPECT_THAT(env_.auth_->Verify(env_.admin_key_.view(), kTokenKindApiKey),
              StatusIs(StatusCode::kUnauthenticated));
  EXPECT_THAT(Redeem(share), StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace coffer
