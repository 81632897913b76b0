// Data key rotation and webhook endpoints' signing secrets, on a real SQLite store: `coffer keys
// reencrypt` re-seals them under the active key bound to the same endpoint, the old key cannot
// be retired before, can after, and the endpoint still signs with the secret shown at creation
// when the old key is gone; a sealed secret moved to another endpoint's row does not open.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "common/status_matchers.h"
#include "crypto/aead.h"
#include "service/reencrypt.h"
#include "service/service_test_env.h"
#include "service/webhook_dispatcher.h"
#include "service/webhook_service.h"
#include "service/webhook_signature.h"

namespace coffer {
namespace {

// Answers 200 and keeps what it was sent.
class Receiver final : public gateway::HttpClient {
 public:
  StatusOr<gateway::OutboundResponse> Send(const gateway::OutboundRequest& request) override {
    requests.push_back(request);
    gateway::OutboundResponse r;
    r.status = 200;
    return r;
  }
  std::vector<gateway::OutboundRequest> requests;
};

std::string Header(const gateway::OutboundRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

class ReencryptWebhookTest : public ::testing::Test {
 protected:
  ReencryptWebhookTest() : webhooks_(*env_.deps_, *env_.keyring_, WebhookServiceOptions{}) {}

  CreatedWebhook Create() {
    auto created = webhooks_.Create(
        env_.AdminCtx(), vault_, {"https://hooks.example.com/in", {"secret.version_created"}, ""});
    EXPECT_THAT(created, IsOk());
    return std::move(created).value();
  }
  // Adds data key `id` as the active one in the store and in the service's keyring.
  void Rotate(uint32_t id) {
    auto key = Keyring::CreateKey(env_.root_key_, id, kKeyPurposeData, env_.random_, 1);
    ASSERT_TRUE(key.has_value());
    ASSERT_THAT(env_.store_->InsertKey(*key), IsOk());
    ASSERT_TRUE(env_.keyring_->RefreshDataKeys(env_.store_->LoadKeys().value(), env_.root_key_)
                    .has_value());
  }
  std::vector<uint8_t> Sealed(const std::string& id) {
    return env_.store_->GetWebhook(vault_, id).value().sealed_secret;
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault("hooks");
  WebhookService webhooks_;
};

TEST_F(ReencryptWebhookTest, ReencryptMovesWebhookSecretsAndTheyStillSignWithoutTheOldKey) {
  const CreatedWebhook a = Create();
  const CreatedWebhook b = Create();
  const uint32_t old_key = *AeadBlobKeyId(Sealed(a.endpoint.id));
  Rotate(old_key + 3);
  const uint32_t new_key = old_key + 3;
  EXPECT_EQ(env_.store_->CountCiphertextsByKey().value(),
            (std::map<int64_t, int64_t>{{old_key, 2}}));
  // Only the webhook secrets name the old key: it cannot be retired yet.
  EXPECT_THAT(env_.store_->DeleteDataKey(old_key), StatusIs(StatusCode::kFailedPrecondition));

  ReencryptOptions options;
  options.batch_size = 1;
  int batches = 0;
  options.on_batch = [&](const ReencryptProgress&) { ++batches; };
  auto result = ReencryptAll(*env_.store_, *env_.keyring_, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->moved, 2);
  EXPECT_EQ(result->failed, 0);
  EXPECT_EQ(result->left, 0);
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(*AeadBlobKeyId(Sealed(a.endpoint.id)), new_key);
  EXPECT_EQ(*AeadBlobKeyId(Sealed(b.endpoint.id)), new_key);
  EXPECT_EQ(env_.store_->CountCiphertextsByKey().value(),
            (std::map<int64_t, int64_t>{{new_key, 2}}));
  ASSERT_THAT(env_.store_->DeleteDataKey(old_key), IsOk());

  // A keyring loaded afresh has no old key; the endpoint still signs with the secret it showed.
  auto fresh = Keyring::Unwrap(env_.store_->LoadKeys().value(), env_.root_key_, env_.random_);
  ASSERT_THAT(fresh, IsOk());
  Receiver receiver;
  WebhookDispatcherOptions o;
  o.sender_id = "test-sender";
  WebhookDispatcher dispatcher(*env_.store_, env_.clock_, env_.monotonic_clock_, **fresh, receiver,
                               env_.random_, o);
  PutSecretRequest put;
  put.type = "password";
  put.value = SecretBuffer("value-1");
  ASSERT_THAT(env_.secrets_->Put(env_.AdminCtx(), vault_, "db/password", std::move(put)), IsOk());
  EXPECT_THAT(dispatcher.DispatchOnce(), IsOkAndHolds(2u));
  EXPECT_THAT(dispatcher.DeliverDue(), IsOkAndHolds(2u));
  ASSERT_EQ(receiver.requests.size(), 2u);
  for (const gateway::OutboundRequest& sent : receiver.requests) {
    const int64_t ts = std::stoll(Header(sent, "webhook-timestamp"));
    auto key_a = DecodeWebhookSecret(a.secret.view());
    auto key_b = DecodeWebhookSecret(b.secret.view());
    ASSERT_THAT(key_a, IsOk());
    ASSERT_THAT(key_b, IsOk());
    const std::string signature = Header(sent, "webhook-signature");
    EXPECT_TRUE(signature == SignWebhook(*key_a, Header(sent, "webhook-id"), ts, sent.body) ||
                signature == SignWebhook(*key_b, Header(sent, "webhook-id"), ts, sent.body));
  }
  auto log_a = webhooks_.Deliveries(env_.AdminCtx(), vault_, a.endpoint.id, 10);
  ASSERT_THAT(log_a, IsOk());
  ASSERT_EQ(log_a->size(), 1u);
  EXPECT_EQ((*log_a)[0].state, WebhookDeliveryState::kDelivered);
}

TEST_F(ReencryptWebhookTest, ASecretMovedToAnotherEndpointsRowIsReportedDamagedAndLeft) {
  const CreatedWebhook a = Create();
  const CreatedWebhook b = Create();
  // b's row now holds a's sealed secret: bound to a, it must not open as b's.
  ASSERT_THAT(env_.store_->SwapWebhookSecrets(
                  {{b.endpoint.id, Sealed(b.endpoint.id), Sealed(a.endpoint.id)}}),
              IsOkAndHolds(1));
  const uint32_t old_key = *AeadBlobKeyId(Sealed(a.endpoint.id));
  Rotate(old_key + 3);

  std::vector<DamagedVersion> damaged;
  ReencryptOptions options;
  options.on_damaged = [&](const DamagedVersion& d) { damaged.push_back(d); };
  auto result = ReencryptAll(*env_.store_, *env_.keyring_, options);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->moved, 1);
  EXPECT_EQ(result->failed, 1);
  EXPECT_EQ(result->left, 1);
  ASSERT_EQ(damaged.size(), 1u);
  EXPECT_EQ(damaged[0].webhook_id, b.endpoint.id);
  EXPECT_EQ(damaged[0].vault_id, vault_);
  EXPECT_EQ(damaged[0].key_id, old_key);
  EXPECT_EQ(*AeadBlobKeyId(Sealed(a.endpoint.id)), old_key + 3);
  EXPECT_EQ(*AeadBlobKeyId(Sealed(b.endpoint.id)), old_key);
  EXPECT_THAT(env_.store_->DeleteDataKey(old_key), StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace coffer
