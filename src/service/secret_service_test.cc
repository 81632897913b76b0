// SecretService rules at the service level, on a real store with a fake clock.
#include "service/secret_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "common/status_matchers.h"
#include "crypto/aead.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

class SecretServiceTest : public ::testing::Test {
 protected:
  PutSecretRequest Req(std::string_view value, std::string type = "api_key") {
    PutSecretRequest r;
    r.type = std::move(type);
    r.value = SecretBuffer(value);
    return r;
  }
  StatusOr<SecretVersion> Put(std::string_view path, std::string_view value) {
    return env_.secrets_->Put(env_.AdminCtx(), vault_, path, Req(value));
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault();
};

TEST_F(SecretServiceTest, PutThenGetReturnsLatestValue) {
  auto v1 = Put("api-keys/openai", "sk-1");
  ASSERT_TRUE(v1.has_value()) << v1.error();
  EXPECT_EQ(v1->version, 1);
  auto v2 = Put("api-keys/openai", "sk-2");
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->secret_id, v1->secret_id);
  auto got = env_.secrets_->Get(env_.AdminCtx(), vault_, "api-keys/openai");
  ASSERT_TRUE(got.has_value()) << got.error();
  EXPECT_EQ(got->value.view(), "sk-2");
  EXPECT_EQ(got->meta.version, 2);
}

TEST_F(SecretServiceTest, ValuesAreStoredEncryptedAndBoundToTheirRow) {
  ASSERT_TRUE(Put("a", "plain-canary-value").has_value());
  ASSERT_TRUE(Put("b", "other-value").has_value());
  auto a = env_.store_->GetSecretVersion(vault_, "a", VersionSelector::LatestAny()).value();
  auto b = env_.store_->GetSecretVersion(vault_, "b", VersionSelector::LatestAny()).value();
  const std::string blob(a.ciphertext.begin(), a.ciphertext.end());
  EXPECT_EQ(blob.find("plain-canary-value"), std::string::npos);
  // a's blob under b's associated data does not open.
  auto swapped = env_.keyring_->Decrypt(a.ciphertext, SecretAad(vault_, b.secret_id, b.version));
  EXPECT_THAT(swapped, StatusIs(StatusCode::kDataLoss));
}

TEST_F(SecretServiceTest, PutValidatesEveryField) {
  auto ctx = env_.AdminCtx();
  EXPECT_THAT(env_.secrets_->Put(ctx, vault_, "a//b", Req("x")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(env_.secrets_->Put(ctx, vault_, "a", Req("x", "bogus")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(env_.secrets_->Put(ctx, vault_, "a", Req("")),
              StatusIs(StatusCode::kInvalidArgument));
  auto past = Req("x");
  past.expires_at = env_.clock_.Now() - 1;
  EXPECT_THAT(env_.secrets_->Put(ctx, vault_, "a", std::move(past)),
              StatusIs(StatusCode::kInvalidArgument));
  auto negative = Req("x");
  negative.max_access_count = -1;
  EXPECT_THAT(env_.secrets_->Put(ctx, vault_, "a", std::move(negative)),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(env_.secrets_->Put(ctx, "not-a-uuid", "a", Req("x")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(env_.secrets_->Put(ctx, NewUuid(), "a", Req("x")), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(env_.secrets_->Get(ctx, vault_, "a"), StatusIs(StatusCode::kNotFound));
}

TEST_F(SecretServiceTest, ExpiryUsesTheInjectedClock) {
  auto r = Req("short");
  r.expires_at = env_.clock_.Now() + 10 * kMicrosPerSecond;
  ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, "t", std::move(r)).has_value());
  EXPECT_TRUE(env_.secrets_->Get(env_.AdminCtx(), vault_, "t").has_value());
  env_.clock_.Advance(10 * kMicrosPerSecond);
  EXPECT_THAT(env_.secrets_->Get(env_.AdminCtx(), vault_, "t"), StatusIs(StatusCode::kGone));
  EXPECT_THAT(env_.secrets_->GetVersion(env_.AdminCtx(), vault_, "t", "1"),
              StatusIs(StatusCode::kGone));
}

TEST_F(SecretServiceTest, CountedReadsAreExactUnderConcurrency) {
  constexpr int kLimit = 40;
  auto r = Req("counted");
  r.max_access_count = kLimit;
  ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, "c", std::move(r)).has_value());
  std::atomic<int> ok{0}, gone{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto got = env_.secrets_->Get(env_.AdminCtx(), vault_, "c");
        if (got.has_value()) {
          ++ok;
        } else if (got.error().code() == StatusCode::kGone) {
          ++gone;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kLimit);
  EXPECT_EQ(gone.load(), 160 - kLimit);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(SecretServiceTest, DisabledVersionsAreSkippedAndGone) {
  ASSERT_TRUE(Put("d", "one").has_value());
  ASSERT_TRUE(Put("d", "two").has_value());
  ASSERT_TRUE(env_.secrets_->DisableVersion(env_.AdminCtx(), vault_, "d", "2").has_value());
  auto latest = env_.secrets_->Get(env_.AdminCtx(), vault_, "d");
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->value.view(), "one");
  EXPECT_THAT(env_.secrets_->GetVersion(env_.AdminCtx(), vault_, "d", "2"),
              StatusIs(StatusCode::kGone));
  ASSERT_TRUE(env_.secrets_->DisableVersion(env_.AdminCtx(), vault_, "d", "1").has_value());
  EXPECT_THAT(env_.secrets_->Get(env_.AdminCtx(), vault_, "d"), StatusIs(StatusCode::kGone));
  auto versions = env_.secrets_->ListVersions(env_.AdminCtx(), vault_, "d").value();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_TRUE(versions[0].is_disabled() && versions[1].is_disabled());
  EXPECT_THAT(env_.secrets_->DisableVersion(env_.AdminCtx(), vault_, "d", "0"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(env_.secrets_->DisableVersion(env_.AdminCtx(), vault_, "d", "7"),
              StatusIs(StatusCode::kNotFound));
}

TEST_F(SecretServiceTest, RotateGeneratesAndInheritsButNeverReturnsTheValue) {
  auto r = Req("initial", "password");
  r.metadata_json = R"({"team":"a"})";
  r.max_access_count = 5;
  r.expires_at = env_.clock_.Now() + kMicrosPerSecond;
  ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, "db/pw", std::move(r)).has_value());
  RotateSecretRequest rotate;
  rotate.length = 48;
  rotate.charset = "alphanumeric";
  auto rotated = env_.secrets_->Rotate(env_.AdminCtx(), vault_, "db/pw", rotate);
  ASSERT_TRUE(rotated.has_value()) << rotated.error();
  EXPECT_EQ(rotated->version, 2);
  EXPECT_EQ(rotated->type, SecretType::kPassword);
  EXPECT_EQ(rotated->metadata_json, R"({"team":"a"})");
  EXPECT_EQ(rotated->max_access_count, 5);
  EXPECT_FALSE(rotated->expires_at.has_value());
  auto value = env_.secrets_->Get(env_.AdminCtx(), vault_, "db/pw").value();
  EXPECT_EQ(value.value.size(), 48u);
  for (char c : value.value.view()) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));

  RotateSecretRequest bad;
  bad.length = 7;
  EXPECT_THAT(env_.secrets_->Rotate(env_.AdminCtx(), vault_, "db/pw", bad),
              StatusIs(StatusCode::kInvalidArgument));
  bad.length = 1025;
  EXPECT_THAT(env_.secrets_->Rotate(env_.AdminCtx(), vault_, "db/pw", bad),
              StatusIs(StatusCode::kInvalidArgument));
  RotateSecretRequest charset;
  charset.charset = "unicode";
  EXPECT_THAT(env_.secrets_->Rotate(env_.AdminCtx(), vault_, "db/pw", charset),
              StatusIs(StatusCode::kInvalidArgument));

  auto created = env_.secrets_->Rotate(env_.AdminCtx(), vault_, "fresh", {});
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->version, 1);
  EXPECT_EQ(created->type, SecretType::kPassword);
  EXPECT_EQ(env_.secrets_->Get(env_.AdminCtx(), vault_, "fresh").value().value.size(), 32u);
}

TEST_F(SecretServiceTest, OtherUsersAreDeniedWithoutAPolicy) {
  ASSERT_TRUE(Put("x", "v").has_value());
  RequestContext stranger{{PrincipalKind::kUser, NewUuid(), "eve", false, ""}, "r", "1.2.3.4"};
  // 403 whether or not a secret exists at the path: nothing is revealed.
  auto existing = env_.secrets_->Get(stranger, vault_, "x");
  auto missing = env_.secrets_->Get(stranger, vault_, "no-such-path");
  ASSERT_THAT(existing, StatusIs(StatusCode::kPermissionDenied));
  ASSERT_THAT(missing, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_EQ(existing.error(), missing.error());
  EXPECT_THAT(env_.secrets_->Put(stranger, vault_, "x", Req("y")),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(env_.vaults_->Get(stranger, vault_), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_TRUE(env_.vaults_->List(stranger).value().empty());
}

TEST_F(SecretServiceTest, ListAndDelete) {
  for (auto p : {"api-keys/a", "api-keys/b", "api-keys-prod/c", "db/x"}) {
    ASSERT_TRUE(Put(p, "v").has_value());
  }
  auto page = env_.secrets_->List(env_.AdminCtx(), vault_, "api-keys/", "", std::nullopt).value();
  ASSERT_EQ(page.secrets.size(), 2u);
  EXPECT_EQ(page.secrets[0].path, "api-keys/a");
  EXPECT_TRUE(page.secrets[0].ciphertext.empty());
  EXPECT_THAT(env_.secrets_->List(env_.AdminCtx(), vault_, "", "", 0),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_TRUE(env_.secrets_->Delete(env_.AdminCtx(), vault_, "db/x").ok());
  EXPECT_EQ(env_.secrets_->Delete(env_.AdminCtx(), vault_, "db/x").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace coffer
