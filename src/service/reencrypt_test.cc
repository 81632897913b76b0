// ReencryptAll and the secret service's handling of values that fail to decrypt, on a real
// SQLite store: rotation, re-encryption under the new key, compare-and-swap against concurrent
// changes, damaged rows, integrity alerts and the keyring reload on an unknown key id.
#include "service/reencrypt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/status_matchers.h"
#include "crypto/aead.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ReencryptTest : public ::testing::Test {
 protected:
  StatusOr<SecretVersion> Put(std::string_view path, std::string_view value) {
    PutSecretRequest r;
    r.type = "password";
    r.value = SecretBuffer(value);
    return env_.secrets_->Put(env_.AdminCtx(), vault_, path, std::move(r));
  }
  std::string Get(std::string_view path) {
    auto got = env_.secrets_->Get(env_.AdminCtx(), vault_, path);
    return got.has_value() ? std::string(got->value.view()) : "<" + got.error().ToString() + ">";
  }
  // Adds data key `id` as the active one in the store and in the service's keyring.
  void Rotate(uint32_t id) {
    auto key = Keyring::CreateKey(env_.root_key_, id, kKeyPurposeData, env_.random_, 1);
    ASSERT_TRUE(key.has_value());
    ASSERT_TRUE(env_.store_->InsertKey(*key).ok());
    ASSERT_TRUE(env_.keyring_->RefreshDataKeys(env_.store_->LoadKeys().value(), env_.root_key_)
                    .has_value());
  }
  std::map<int64_t, int64_t> Counts() { return env_.store_->CountCiphertextsByKey().value(); }
  std::vector<uint8_t> Blob(std::string_view path, int64_t version) {
    return env_.store_->GetSecretVersion(vault_, path, VersionSelector::Exact(version))
        .value()
        .ciphertext;
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault();
};

TEST_F(ReencryptTest, RotationThenReencryptMovesEveryVersionAndKeepsValues) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(Put("s" + std::to_string(i), "value-" + std::to_string(i)).has_value());
  }
  ASSERT_TRUE(Put("s0", "value-0-v2").has_value());
  EXPECT_EQ(Counts(), (std::map<int64_t, int64_t>{{1, 26}}));
  Rotate(4);
  ASSERT_TRUE(Put("new", "after-rotation").has_value());
  EXPECT_EQ(*AeadBlobKeyId(Blob("new", 1)), 4u);
  EXPECT_EQ(Get("s3"), "value-3");  // old key still readable

  std::vector<ReencryptProgress> batches;
  ReencryptOptions options;
  options.batch_size = 10;
  options.on_batch = [&](const ReencryptProgress& p) { batches.push_back(p); };
  auto result = ReencryptAll(*env_.store_, *env_.keyring_, options);
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(result->target_key_id, 4u);
  EXPECT_EQ(result->moved, 26);
  EXPECT_EQ(result->failed, 0);
  EXPECT_EQ(result->left, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].moved, 10);
  EXPECT_EQ(batches[0].left, 16);
  EXPECT_EQ(batches[2].left, 0);
  EXPECT_EQ(Counts(), (std::map<int64_t, int64_t>{{4, 27}}));
  for (int i = 1; i < 25; ++i) {
    EXPECT_EQ(Get("s" + std::to_string(i)), "value-" + std::to_string(i));
  }
  auto v1 = env_.secrets_->GetVersion(env_.AdminCtx(), vault_, "s0", "1");
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->value.view(), "value-0");
  EXPECT_EQ(Get("s0"), "value-0-v2");

  // A second run has nothing to do; the old key can then go.
  auto again = ReencryptAll(*env_.store_, *env_.keyring_, {});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->moved, 0);
  EXPECT_TRUE(env_.store_->DeleteDataKey(1).ok());
  ASSERT_TRUE(
      env_.keyring_->RefreshDataKeys(env_.store_->LoadKeys().value(), env_.root_key_).has_value());
  EXPECT_FALSE(env_.keyring_->HoldsDataKey(1));
  EXPECT_EQ(Get("s7"), "value-7");
}

TEST_F(ReencryptTest, KeepsReadCountsAndDisabledVersionsAndRebindsToTheSameRow) {
  PutSecretRequest r;
  r.type = "password";
  r.value = SecretBuffer("counted");
  r.max_access_count = 3;
  ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, "c", std::move(r)).has_value());
  EXPECT_EQ(Get("c"), "counted");
  ASSERT_TRUE(Put("d", "one").has_value());
  ASSERT_TRUE(Put("d", "two").has_value());
  ASSERT_TRUE(env_.secrets_->DisableVersion(env_.AdminCtx(), vault_, "d", "2").has_value());
  Rotate(4);
  ASSERT_TRUE(ReencryptAll(*env_.store_, *env_.keyring_, {}).has_value());
  auto c = env_.store_->GetSecretVersion(vault_, "c", VersionSelector::Exact(1)).value();
  EXPECT_EQ(c.access_count, 1);
  EXPECT_EQ(c.max_access_count, 3);
  auto d2 = env_.store_->GetSecretVersion(vault_, "d", VersionSelector::Exact(2)).value();
  EXPECT_TRUE(d2.is_disabled());
  EXPECT_EQ(*AeadBlobKeyId(d2.ciphertext), 4u);
  EXPECT_EQ(Get("d"), "one");
  // The new blob is still bound to its row: under another row's associated data it fails.
  EXPECT_FALSE(
      env_.keyring_->Decrypt(c.ciphertext, SecretAad(vault_, d2.secret_id, 2)).has_value());
}

TEST_F(ReencryptTest, ADamagedVersionIsReportedAndLeftAsItIs) {
  ASSERT_TRUE(Put("good", "fine").has_value());
  ASSERT_TRUE(Put("bad", "will-be-damaged").has_value());
  auto bad = env_.store_->GetSecretVersion(vault_, "bad", VersionSelector::Exact(1)).value();
  std::vector<uint8_t> damaged = bad.ciphertext;
  damaged[20] ^= 0x40;
  ASSERT_EQ(env_.store_->SwapCiphertexts({{bad.secret_id, 1, bad.ciphertext, damaged}}).value(), 1);
  Rotate(4);
  std::vector<DamagedVersion> reported;
  ReencryptOptions options;
  options.on_damaged = [&](const DamagedVersion& d) { reported.push_back(d); };
  auto result = ReencryptAll(*env_.store_, *env_.keyring_, options);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->moved, 1);
  EXPECT_EQ(result->failed, 1);
  EXPECT_EQ(result->left, 1);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].path, "bad");
  EXPECT_EQ(reported[0].version, 1);
  EXPECT_EQ(reported[0].key_id, 1);
  EXPECT_EQ(Blob("bad", 1), damaged);
  EXPECT_EQ(env_.store_->DeleteDataKey(1).code(), StatusCode::kFailedPrecondition);
}

TEST_F(ReencryptTest, ConcurrentWritesAndReadsDuringReencryptLoseNothing) {
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(Put("p" + std::to_string(i % 20), "v" + std::to_string(i)).has_value());
  }
  Rotate(4);
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread writer([&] {
    for (int i = 200; !stop.load(); ++i) {
      if (!Put("p" + std::to_string(i % 20), "v" + std::to_string(i)).has_value()) ++errors;
      const std::string got = Get("p" + std::to_string(i % 20));
      if (got.empty() || got[0] != 'v') ++errors;
    }
  });
  ReencryptOptions options;
  options.batch_size = 7;
  auto result = ReencryptAll(*env_.store_, *env_.keyring_, options);
  stop = true;
  writer.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(result->moved, 200);
  EXPECT_EQ(result->left, 0);
  EXPECT_EQ(Counts().size(), 1u);
  for (int i = 0; i < 20; ++i) {
    auto versions = env_.secrets_->ListVersions(env_.AdminCtx(), vault_, "p" + std::to_string(i));
    ASSERT_TRUE(versions.has_value());
    for (const SecretVersion& v : *versions) {
      EXPECT_TRUE(
          env_.secrets_->GetVersion(env_.AdminCtx(), vault_, v.path, std::to_string(v.version))
              .has_value());
    }
  }
}

// --- the secret service on values that do not decrypt -----------------------------------------

class IntegrityAlertTest : public ReencryptTest {
 protected:
  void UseHooks(std::function<bool()> reload) {
    SecretServiceHooks hooks;
    hooks.reload_keyring = std::move(reload);
    hooks.on_integrity_failure = [this](const IntegrityFailure& f) { alerts_.push_back(f); };
    env_.secrets_ = std::make_unique<SecretService>(*env_.deps_, *env_.keyring_, std::move(hooks));
  }
  std::vector<IntegrityFailure> alerts_;
};

TEST_F(IntegrityAlertTest, ADamagedValueFailsWithDataLossAndOneAlertNamingTheRow) {
  int reloads = 0;
  UseHooks([&] {
    ++reloads;
    return false;
  });
  ASSERT_TRUE(Put("a", "value-a").has_value());
  ASSERT_TRUE(Put("b", "value-b").has_value());
  auto a = env_.store_->GetSecretVersion(vault_, "a", VersionSelector::Exact(1)).value();
  auto b = env_.store_->GetSecretVersion(vault_, "b", VersionSelector::Exact(1)).value();
  // b's blob copied onto a's row.
  ASSERT_EQ(env_.store_->SwapCiphertexts({{a.secret_id, 1, a.ciphertext, b.ciphertext}}).value(),
            1);
  auto got = env_.secrets_->Get(env_.AdminCtx(), vault_, "a");
  EXPECT_THAT(got, StatusIs(StatusCode::kDataLoss, Not(HasSubstr("value-b"))));
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].vault_id, vault_);
  EXPECT_EQ(alerts_[0].path, "a");
  EXPECT_EQ(alerts_[0].secret_id, a.secret_id);
  EXPECT_EQ(alerts_[0].version, 1);
  EXPECT_EQ(alerts_[0].key_id, 1u);
  EXPECT_TRUE(alerts_[0].key_held);
  EXPECT_EQ(alerts_[0].request_id, "req-test");
  EXPECT_EQ(reloads, 0);  // the key is held: nothing to reload
  EXPECT_EQ(Get("b"), "value-b");
}

TEST_F(IntegrityAlertTest, AnUnknownKeyIdReloadsTheKeyringOnceBeforeFailing) {
  // Another process rotates: the store has key 4, this keyring does not yet.
  Keyring& ring = *env_.keyring_;
  auto key = Keyring::CreateKey(env_.root_key_, 4, kKeyPurposeData, env_.random_, 1);
  ASSERT_TRUE(key.has_value());
  ASSERT_TRUE(env_.store_->InsertKey(*key).ok());
  auto other = Keyring::Unwrap(env_.store_->LoadKeys().value(), env_.root_key_, env_.random_);
  ASSERT_TRUE(other.has_value());
  ASSERT_TRUE(Put("x", "placeholder").has_value());
  auto x = env_.store_->GetSecretVersion(vault_, "x", VersionSelector::Exact(1)).value();
  auto sealed =
      (*other)->Encrypt(SecretBuffer("sealed-elsewhere").span(), SecretAad(vault_, x.secret_id, 1));
  ASSERT_TRUE(sealed.has_value());
  ASSERT_EQ(env_.store_->SwapCiphertexts({{x.secret_id, 1, x.ciphertext, *sealed}}).value(), 1);

  int reloads = 0;
  UseHooks([&] {
    ++reloads;
    return ring.RefreshDataKeys(env_.store_->LoadKeys().value(), env_.root_key_).value_or(false);
  });
  EXPECT_EQ(Get("x"), "sealed-elsewhere");
  EXPECT_EQ(reloads, 1);
  EXPECT_TRUE(alerts_.empty());

  // A key id no keyring has: one reload attempt, then the alert.
  std::vector<uint8_t> bogus = *sealed;
  bogus[4] = 0x63;  // key id 99
  ASSERT_EQ(env_.store_->SwapCiphertexts({{x.secret_id, 1, *sealed, bogus}}).value(), 1);
  auto got = env_.secrets_->Get(env_.AdminCtx(), vault_, "x");
  EXPECT_THAT(got, StatusIs(StatusCode::kDataLoss));
  EXPECT_EQ(reloads, 2);
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(alerts_[0].key_id, 99u);
  EXPECT_FALSE(alerts_[0].key_held);
}

TEST_F(IntegrityAlertTest, ADamagedCountedValueDoesNotSpendARead) {
  UseHooks(nullptr);
  PutSecretRequest r;
  r.type = "password";
  r.value = SecretBuffer("once");
  r.max_access_count = 1;
  ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, "once", std::move(r)).has_value());
  auto row = env_.store_->GetSecretVersion(vault_, "once", VersionSelector::Exact(1)).value();
  std::vector<uint8_t> truncated(row.ciphertext.begin(), row.ciphertext.begin() + 10);
  ASSERT_EQ(env_.store_->SwapCiphertexts({{row.secret_id, 1, row.ciphertext, truncated}}).value(),
            1);
  EXPECT_THAT(env_.secrets_->Get(env_.AdminCtx(), vault_, "once"), StatusIs(StatusCode::kDataLoss));
  EXPECT_EQ(alerts_.size(), 1u);
  EXPECT_EQ(
      env_.store_->GetSecretVersion(vault_, "once", VersionSelector::Exact(1)).value().access_count,
      0);
}

}  // namespace
}  // namespace coffer
