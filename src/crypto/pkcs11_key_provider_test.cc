// Tests of the PKCS#11 root key against SoftHSM2: a token initialised in a temp dir for this
// test binary (SOFTHSM2_CONF), URI parsing, sealing and opening with each mechanism, migration
// between a key file's root key and the token's, and failure and recovery of the token.
#include "crypto/pkcs11_key_provider.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "common/monotonic_clock.h"
#include "common/test_gate.h"
#include "crypto/keyring.h"

namespace coffer {
namespace {

constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
constexpr char kToken[] = "coffer-test";
constexpr char kPinEnv[] = "COFFER_TEST_TOKEN_PIN";

// One SoftHSM2 token for the whole binary: the module reads SOFTHSM2_CONF once per process.
class SoftHsm {
 public:
  static SoftHsm& Get() {
    static SoftHsm* hsm = new SoftHsm();
    return *hsm;
  }
  const std::filesystem::path& tokens() const { return tokens_; }
  std::string Uri(std::string_view object) const {
    return fmt::format("pkcs11:token={};object={}?module-path={}&pin-source=env:{}", kToken, object,
                       kModule, kPinEnv);
  }

 private:
  SoftHsm() {
    char tmpl[] = "/tmp/coffer-softhsm-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    tokens_ = dir_ / "tokens";
    std::filesystem::create_directories(tokens_);
    const auto conf = dir_ / "softhsm2.conf";
    std::ofstream(conf) << "directories.tokendir = " << tokens_.string()
                        << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
    ::setenv(kPinEnv, "4321", 1);
    const std::string init = fmt::format(
        "softhsm2-util --init-token --free --label {} --pin 4321 --so-pin 8765 >/dev/null", kToken);
    ok_ = std::system(init.c_str()) == 0;
  }

 public:
  bool ok_ = false;

 private:
  std::filesystem::path dir_;
  std::filesystem::path tokens_;
};

std::unique_ptr<KeyProvider> Provider(std::string_view object, Pkcs11Options options = {}) {
  auto uri = ParsePkcs11Uri(SoftHsm::Get().Uri(object));
  EXPECT_TRUE(uri.has_value()) << uri.error();
  return NewPkcs11KeyProvider(*uri, std::move(options));
}

class Pkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(SoftHsm::Get().ok_) << "softhsm2-util --init-token failed"; }
  SystemRandom random_;
};

TEST(Pkcs11UriTest, ParsesTokenObjectModuleAndPinSource) {
  auto uri = ParsePkcs11Uri(
      "pkcs11:token=my%20token;object=root;type=secret-key?module-path=/usr/lib/m.so&"
      "pin-source=file:/etc/coffer/pin");
  ASSERT_TRUE(uri.has_value()) << uri.error();
  EXPECT_EQ(uri->token, "my token");
  EXPECT_EQ(uri->object, "root");
  EXPECT_EQ(uri->module_path, "/usr/lib/m.so");
  EXPECT_EQ(uri->pin_file, "/etc/coffer/pin");
  EXPECT_EQ(uri->pin_env, "");
  auto env = ParsePkcs11Uri("pkcs11:token=t;object=o?module-path=/m.so&pin-source=env:PIN");
  ASSERT_TRUE(env.has_value()) << env.error();
  EXPECT_EQ(env->pin_env, "PIN");
}

TEST(Pkcs11UriTest, RefusesPinValueWithoutEchoingIt) {
  auto uri = ParsePkcs11Uri("pkcs11:token=t;object=o?module-path=/m.so&pin-value=s3cr3t");
  ASSERT_FALSE(uri.has_value());
  EXPECT_EQ(uri.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(uri.error().message().find("pin-value is refused"), std::string::npos);
  EXPECT_EQ(uri.error().message().find("s3cr3t"), std::string::npos);
}

TEST(Pkcs11UriTest, RefusesMissingAndUnknownAttributes) {
  for (const char* bad : {
           "pkcs11:object=o?module-path=/m.so&pin-source=env:P",  // no token
           "pkcs11:token=t?module-path=/m.so&pin-source=env:P",   // no object
           "pkcs11:token=t;object=o?pin-source=env:P",            // no module-path
           "pkcs11:token=t;object=o?module-path=/m.so",           // no pin-source
           "pkcs11:token=t;object=o;colour=red?module-path=/m&pin-source=env:P",
           "pkcs11:token=t;object=o?module-path=/m.so&pin-source=relative",
           "pkcs11:token=t%2;object=o?module-path=/m.so&pin-source=env:P",
           "pkcs11:token=t;object=o;type=private?module-path=/m.so&pin-source=env:P",
       }) {
    auto uri = ParsePkcs11Uri(bad);
    EXPECT_FALSE(uri.has_value()) << bad;
  }
}

TEST(Pkcs11UriTest, KeyProviderForUriAcceptsFileAndPkcs11Only) {
  EXPECT_TRUE(KeyProviderForUri("file:/var/lib/coffer/root.key").has_value());
  EXPECT_TRUE(KeyProviderForUri(SoftHsm::Get().Uri("x")).has_value());
  EXPECT_FALSE(KeyProviderForUri("/var/lib/coffer/root.key").has_value());
  EXPECT_FALSE(KeyProviderForUri("file:").has_value());
}

TEST_F(Pkcs11Test, RefusesAMissingKeyUnlessAskedToCreateIt) {
  auto provider = Provider("absent");
  auto root = provider->OpenRootKey(random_);
  ASSERT_FALSE(root.has_value());
  EXPECT_EQ(root.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(root.error().message().find("no secret key labelled absent"), std::string::npos);
  EXPECT_FALSE(provider->LoadRootKey().has_value());  // the bytes never leave the token
}

TEST_F(Pkcs11Test, ReadsThePinFromAnOwnerOnlyFileAndNeverSaysIt) {
  char tmpl[] = "/tmp/coffer-pin-XXXXXX";
  const std::filesystem::path dir = ::mkdtemp(tmpl);
  const std::filesystem::path pin = dir / "pin";
  std::ofstream(pin) << "4321\n";
  const std::string uri =
      fmt::format("pkcs11:token={};object=pin-file?module-path={}&pin-source=file:{}", kToken,
                  kModule, pin.string());
  auto parsed = ParsePkcs11Uri(uri);
  ASSERT_TRUE(parsed.has_value()) << parsed.error();
  Pkcs11Options options;
  options.create_if_missing = true;
  options.reopen_interval = std::chrono::milliseconds(0);
  ASSERT_EQ(::chmod(pin.c_str(), 0644), 0);
  auto refused = NewPkcs11KeyProvider(*parsed, options)->OpenRootKey(random_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("PIN file"), std::string::npos) << refused.error();
  EXPECT_EQ(refused.error().message().find("4321"), std::string::npos);
  ASSERT_EQ(::chmod(pin.c_str(), 0600), 0);
  auto root = NewPkcs11KeyProvider(*parsed, options)->OpenRootKey(random_);
  EXPECT_TRUE(root.has_value()) << root.error();
  std::filesystem::remove_all(dir);
}

void ExpectSealsAndOpens(Pkcs11Mechanism mechanism, std::string_view object, Random& random) {
  Pkcs11Options options;
  options.create_if_missing = true;
  options.mechanism = mechanism;
  auto root = Provider(object, options)->OpenRootKey(random);
  ASSERT_TRUE(root.has_value()) << root.error();
  EXPECT_EQ((*root)->kind(), RootKeyKind::kPkcs11);
  SecretBuffer key(32);
  ASSERT_TRUE(random.Fill({key.data(), key.size()}).ok());
  const std::vector<uint8_t> aad = {1, 2, 3};
  auto sealed = (*root)->Seal(key, aad);
  ASSERT_TRUE(sealed.has_value()) << sealed.error();
  EXPECT_EQ(SealedRootKind(*sealed), RootKeyKind::kPkcs11);
  // The key is not in the sealed form.
  EXPECT_EQ(std::search(sealed->begin(), sealed->end(), key.span().begin(), key.span().end()),
            sealed->end());
  auto opened = (*root)->Open(*sealed, aad);
  ASSERT_TRUE(opened.has_value()) << opened.error();
  EXPECT_TRUE(std::equal(opened->span().begin(), opened->span().end(), key.span().begin(),
                         key.span().end()));
  // Other associated data (another key id or purpose) does not open, nor does an altered blob.
  auto other = (*root)->Open(*sealed, std::vector<uint8_t>{1, 2, 4});
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), StatusCode::kFailedPrecondition);
  std::vector<uint8_t> altered = *sealed;
  altered[altered.size() / 2] ^= 1;
  EXPECT_EQ((*root)->Open(altered, aad).error().code(), StatusCode::kFailedPrecondition);
  // The same object opened again (as after a restart) opens what was sealed.
  Pkcs11Options again;
  again.mechanism = mechanism;
  auto reopened = Provider(object, again)->OpenRootKey(random);
  ASSERT_TRUE(reopened.has_value()) << reopened.error();
  EXPECT_TRUE((*reopened)->Open(*sealed, aad).has_value());
}

TEST_F(Pkcs11Test, SealsAndOpensWithKeyWrapPad) {
  ExpectSealsAndOpens(Pkcs11Mechanism::kKeyWrapPad, "wrap-pad", random_);
}

TEST_F(Pkcs11Test, SealsAndOpensWithGcm) {
  ExpectSealsAndOpens(Pkcs11Mechanism::kGcm, "gcm", random_);
}

TEST_F(Pkcs11Test, SealsAndOpensWithTheDetectedMechanism) {
  ExpectSealsAndOpens(Pkcs11Mechanism::kAuto, "auto", random_);
}

TEST_F(Pkcs11Test, KeyringMovesFromAKeyFileRootToTheTokenAndBack) {
  SecretBuffer file_key(32);
  ASSERT_TRUE(random_.Fill({file_key.data(), file_key.size()}).ok());
  auto file_root = NewBytesRootKey(file_key.Clone(), random_, "key file");
  auto keys = Keyring::CreateInitialKeys(*file_root, random_, 1);
  ASSERT_TRUE(keys.has_value()) << keys.error();
  Pkcs11Options options;
  options.create_if_missing = true;
  auto hsm_root = Provider("migrate", options)->OpenRootKey(random_);
  ASSERT_TRUE(hsm_root.has_value()) << hsm_root.error();
  std::vector<WrappedKey> moved;
  for (const WrappedKey& key : *keys) {
    auto resealed = Keyring::Reseal(key, *file_root, **hsm_root);
    ASSERT_TRUE(resealed.has_value()) << resealed.error();
    EXPECT_TRUE(Keyring::Verify(*resealed, **hsm_root).ok());
    moved.push_back(*resealed);
  }
  auto ring = Keyring::Unwrap(moved, **hsm_root, random_);
  ASSERT_TRUE(ring.has_value()) << ring.error();
  auto wrong = Keyring::Unwrap(moved, *file_root, random_);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message().find("sealed by a pkcs11 root key"), std::string::npos);
  // A value sealed before the move opens after it: the data keys are the same.
  auto before = Keyring::Unwrap(*keys, file_key, random_);
  ASSERT_TRUE(before.has_value());
  auto blob = (*before)->Encrypt(std::vector<uint8_t>{'v'}, {});
  ASSERT_TRUE(blob.has_value());
  EXPECT_TRUE((*ring)->Decrypt(*blob, {}).has_value());
  for (WrappedKey& key : moved) {
    auto back = Keyring::Reseal(key, **hsm_root, *file_root);
    ASSERT_TRUE(back.has_value()) << back.error();
    key = *back;
  }
  EXPECT_TRUE(Keyring::Unwrap(moved, file_key, random_).has_value());
}

TEST_F(Pkcs11Test, AnUnreachableTokenIsUnavailableAndRecoversByItself) {
  auto now = std::make_shared<std::chrono::steady_clock::time_point>();
  Pkcs11Options options;
  options.create_if_missing = true;
  options.reopen_interval = std::chrono::seconds(5);
  options.now = [now] { return *now; };
  auto root = Provider("failure", options)->OpenRootKey(random_);
  ASSERT_TRUE(root.has_value()) << root.error();
  SecretBuffer key(32);
  auto sealed = (*root)->Seal(key, {});
  ASSERT_TRUE(sealed.has_value()) << sealed.error();

  // The token's store made unreadable: mode 000, or (as root, whom a mode does not stop) moved
  // away.
  const std::filesystem::path tokens = SoftHsm::Get().tokens();
  const std::filesystem::path away = tokens.string() + ".away";
  const bool root_user = ::geteuid() == 0;
  if (root_user) {
    std::filesystem::rename(tokens, away);
  } else {
    ASSERT_EQ(::chmod(tokens.c_str(), 0), 0);
  }
  auto failed = (*root)->Open(*sealed, {});
  if (root_user) {
    std::filesystem::rename(away, tokens);
  } else {
    ASSERT_EQ(::chmod(tokens.c_str(), 0700), 0);
  }
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(failed.error().payload().key_provider_unavailable);
  // Within the reopen interval, attempts fail at once, even though the token is back.
  auto soon = (*root)->Open(*sealed, {});
  ASSERT_FALSE(soon.has_value());
  EXPECT_EQ(soon.error().code(), StatusCode::kUnavailable);
  *now += std::chrono::seconds(6);
  auto later = (*root)->Open(*sealed, {});
  ASSERT_TRUE(later.has_value()) << later.error();
}

// A token that stops answering: each call into the module waits while the gate is closed.
TEST_F(Pkcs11Test, ASlowTokenIsUnavailableAtTheDeadlineFailsFastAndRecovers) {
  FakeMonotonicClock clock;
  TestGate token(/*open=*/true);
  Pkcs11Options options;
  options.create_if_missing = true;
  options.call_timeout = std::chrono::seconds(2);
  options.clock = &clock;
  options.before_call = token.Call();
  std::unique_ptr<KeyProvider> provider = Provider("slow", options);
  auto root = provider->OpenRootKey(random_);
  ASSERT_TRUE(root.has_value()) << root.error();
  auto keys = Keyring::CreateInitialKeys(**root, random_, 1);
  ASSERT_TRUE(keys.has_value()) << keys.error();

  token.Set(false);
  const int calls = token.entered();
  auto waiting =
      std::async(std::launch::async, [&] { return Keyring::Verify(keys->front(), **root); });
  ASSERT_TRUE(clock.AwaitWaiting(1));
  token.AwaitEntered(calls);  // in the module, not queued for it
  clock.Advance(std::chrono::seconds(2));
  const Status timed_out = waiting.get();
  EXPECT_EQ(timed_out.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(timed_out.payload().key_provider_unavailable);
  EXPECT_NE(timed_out.message().find("did not answer within 2000 ms"), std::string::npos)
      << timed_out.message();
  EXPECT_EQ(provider->failure_count(), 1u);
  // While that call is stuck, others fail at once (no time passes), and readiness says so.
  const Status fast = provider->CheckReachable();
  EXPECT_EQ(fast.code(), StatusCode::kUnavailable);
  EXPECT_NE(fast.message().find("has not returned"), std::string::npos) << fast.message();
  EXPECT_EQ(provider->failure_count(), 2u);
  // The token answers again: the stuck call ends, the session is whole, calls succeed.
  token.Set(true);
  Status again = provider->CheckReachable();
  while (!again.ok() && again.message().find("has not returned") != std::string::npos) {
    std::this_thread::yield();
    again = provider->CheckReachable();
  }
  EXPECT_TRUE(again.ok()) << again;
  EXPECT_TRUE(Keyring::Verify(keys->front(), **root).ok());
}

TEST_F(Pkcs11Test, DataKeysAreUnwrappedOnceAndNotPerValue) {
  TestGate token(/*open=*/true);  // never closed: counts the calls into the module
  Pkcs11Options options;
  options.create_if_missing = true;
  options.before_call = token.Call();
  auto root = Provider("per-request", options)->OpenRootKey(random_);
  ASSERT_TRUE(root.has_value()) << root.error();
  auto keys = Keyring::CreateInitialKeys(**root, random_, 1);
  ASSERT_TRUE(keys.has_value()) << keys.error();
  auto ring = Keyring::Unwrap(*keys, **root, random_);
  ASSERT_TRUE(ring.has_value()) << ring.error();
  const int after_unwrap = token.entered();
  for (int i = 0; i < 100; ++i) {
    auto blob = (*ring)->Encrypt(std::vector<uint8_t>{'v'}, {});
    ASSERT_TRUE(blob.has_value());
    ASSERT_TRUE((*ring)->Decrypt(*blob, {}).has_value());
  }
  EXPECT_EQ(token.entered(), after_unwrap);
}

}  // namespace
}  // namespace coffer
