// Webhooks in the service layer: Standard Webhooks signing against the spec's published test
// vector, the retry schedule, which audit actions become which events, and the dispatcher end to
// end over a real SQLite store, a fake clock and a fake receiver (queued once, signed, retried
// after a failure, delivered).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "common/status_matchers.h"
#include "service/service_test_env.h"
#include "service/webhook_dispatcher.h"
#include "service/webhook_events.h"
#include "service/webhook_retry.h"
#include "service/webhook_service.h"
#include "service/webhook_signature.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(WebhookSignatureTest, MatchesTheStandardWebhooksTestVector) {
  // From the Standard Webhooks specification's reference libraries.
  auto key = DecodeWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(
      SignWebhook(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_EQ(EncodeWebhookSecret(*key), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
}

TEST(WebhookSignatureTest, SecretsRoundTripAndBadOnesAreRefused) {
  for (size_t n : {1u, 2u, 3u, 32u}) {
    SecretBuffer key(n);
    for (size_t i = 0; i < n; ++i) key.data()[i] = static_cast<uint8_t>(i * 37 + 1);
    auto back = DecodeWebhookSecret(EncodeWebhookSecret(key));
    ASSERT_THAT(back, IsOk());
    EXPECT_EQ(back->view(), key.view());
  }
  EXPECT_THAT(DecodeWebhookSecret("whsec_"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeWebhookSecret("whsec_abc"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodeWebhookSecret("whsec_!!!!"), StatusIs(StatusCode::kInvalidArgument));
}

TEST(WebhookRetryTest, RetriesForMoreThanADayThenGivesUp) {
  FakeClock clock(1'000'000'000'000'000);
  const UnixMicros start = clock.Now();
  const std::chrono::milliseconds first(5000);
  const std::vector<UnixMicros> waits = {5, 300, 1800, 7200, 18000, 36000, 36000};
  for (size_t attempt = 1; attempt <= waits.size(); ++attempt) {
    auto next = NextWebhookAttempt(static_cast<int64_t>(attempt), clock.Now(), first);
    ASSERT_TRUE(next.has_value()) << attempt;
    EXPECT_EQ(*next - clock.Now(), waits[attempt - 1] * kMicrosPerSecond) << attempt;
    clock.Set(*next);
  }
  EXPECT_FALSE(NextWebhookAttempt(kWebhookMaxAttempts, clock.Now(), first).has_value());
  EXPECT_GT(clock.Now() - start, 24 * 3600 * kMicrosPerSecond);
  // The first wait follows the option (tests shorten it); the others do not.
  EXPECT_EQ(*NextWebhookAttempt(1, 0, std::chrono::milliseconds(200)), 200'000);
  EXPECT_EQ(*NextWebhookAttempt(2, 0, std::chrono::milliseconds(200)), 300 * kMicrosPerSecond);
}

TEST(WebhookEventsTest, SuccessfulAuditActionsMapToEventTypes) {
  struct Row {
    const char* action;
    std::vector<std::string_view> events;
  };
  const Row rows[] = {
      {"secret.write", {"secret.version_created"}},
      {"secret.rotate", {"secret.rotated", "secret.version_created"}},
      {"secret.rotation_due", {"secret.rotation_due"}},
      {"secret.expiring", {"secret.expiring"}},
      {"secret.expired", {"secret.expired"}},
      {"secret.disable", {"secret.version_disabled"}},
      {"secret.disable_version", {"secret.version_disabled"}},
      {"agent.rotate_key", {"agent.key_rotated"}},
      {"agent.self_rotate_key", {"agent.key_rotated"}},
      {"secret.read", {}},
      {"vault.delete", {}},
  };
  for (const Row& row : rows) {
    AuditEvent e;
    e.action = row.action;
    e.outcome = "success";
    EXPECT_EQ(WebhookEventsOf(e), row.events) << row.action;
    e.outcome = "denied";
    EXPECT_TRUE(WebhookEventsOf(e).empty()) << row.action;
  }
  EXPECT_THAT(NormalizeWebhookEvents({"secret.rotated", "secret.expired", "secret.rotated"}),
              IsOkAndHolds(std::vector<std::string>{"secret.expired", "secret.rotated"}));
  auto unknown = NormalizeWebhookEvents({"secret.read"});
  EXPECT_THAT(unknown, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(unknown.error().message(), HasSubstr("events"));
  EXPECT_THAT(NormalizeWebhookEvents({}), StatusIs(StatusCode::kInvalidArgument));
}

// Answers with the queued statuses (200 once they run out) and keeps what it was sent.
class FakeReceiver final : public gateway::HttpClient {
 public:
  StatusOr<gateway::OutboundResponse> Send(const gateway::OutboundRequest& request) override {
    requests.push_back(request);
    int status = 200;
    if (!statuses.empty()) {
      status = statuses.front();
      statuses.pop_front();
    }
    if (status == 0) return Err(PermissionDeniedError("connecting to 127.0.0.1 is refused"));
    gateway::OutboundResponse r;
    r.status = status;
    return r;
  }
  std::deque<int> statuses;
  std::vector<gateway::OutboundRequest> requests;
};

std::string Header(const gateway::OutboundRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

class WebhookDispatchTest : public ::testing::Test {
 protected:
  WebhookDispatchTest()
      : webhooks_(*env_.deps_, *env_.keyring_, WebhookServiceOptions{}),
        dispatcher_(*env_.store_, env_.clock_, env_.monotonic_clock_, *env_.keyring_, receiver_,
                    env_.random_, Options()) {}

  static WebhookDispatcherOptions Options() {
    WebhookDispatcherOptions o;
    o.first_retry = std::chrono::milliseconds(2000);
    o.sender_id = "test-sender";
    return o;
  }

  CreatedWebhook Create(const std::string& vault_id, std::vector<std::string> events) {
    auto created = webhooks_.Create(env_.AdminCtx(), vault_id,
                                    {"https://hooks.example.com/in", std::move(events), "ci"});
    EXPECT_THAT(created, IsOk());
    return std::move(created).value();
  }

  void PutValue(const std::string& vault_id, std::string_view path, std::string_view value) {
    PutSecretRequest put;
    put.type = "password";
    put.value = SecretBuffer(value);
    ASSERT_THAT(env_.secrets_->Put(env_.AdminCtx(), vault_id, path, std::move(put)), IsOk());
  }

  ServiceTestEnv env_;
  FakeReceiver receiver_;
  WebhookService webhooks_;
  WebhookDispatcher dispatcher_;
};

TEST_F(WebhookDispatchTest, APutIsQueuedOnceSignedRetriedAfterA500AndDelivered) {
  const std::string vault = env_.NewVault("hooks");
  const std::string other = env_.NewVault("other");
  const CreatedWebhook hook = Create(vault, {"secret.version_created"});
  EXPECT_THAT(hook.secret.view(), ::testing::StartsWith("whsec_"));
  Create(vault, {"secret.rotated"});  // not subscribed to what follows
  PutValue(vault, "db/password", "hunter2-very-secret");
  PutValue(other, "db/password", "elsewhere");  // another vault's event

  EXPECT_THAT(dispatcher_.DispatchOnce(), IsOkAndHolds(1u));
  EXPECT_THAT(dispatcher_.DispatchOnce(), IsOkAndHolds(0u));  // nothing twice

  receiver_.statuses = {500};
  EXPECT_THAT(dispatcher_.DeliverDue(), IsOkAndHolds(1u));
  auto log = webhooks_.Deliveries(env_.AdminCtx(), vault, hook.endpoint.id, 50);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].state, WebhookDeliveryState::kPending);
  EXPECT_EQ((*log)[0].attempts, 1);
  EXPECT_EQ((*log)[0].last_status_code, 500);
  EXPECT_THAT((*log)[0].last_error, HasSubstr("500"));
  EXPECT_EQ((*log)[0].next_attempt_at, env_.clock_.Now() + 2 * kMicrosPerSecond);

  // Not due until the first retry's wait has passed.
  EXPECT_THAT(dispatcher_.DeliverDue(), IsOkAndHolds(0u));
  env_.clock_.Advance(2 * kMicrosPerSecond);
  EXPECT_THAT(dispatcher_.DeliverDue(), IsOkAndHolds(1u));
  log = webhooks_.Deliveries(env_.AdminCtx(), vault, hook.endpoint.id, 50);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ((*log)[0].state, WebhookDeliveryState::kDelivered);
  EXPECT_EQ((*log)[0].attempts, 2);

  ASSERT_EQ(receiver_.requests.size(), 2u);
  const gateway::OutboundRequest& sent = receiver_.requests.back();
  EXPECT_EQ(sent.url, "https://hooks.example.com/in");
  EXPECT_THAT(sent.body, HasSubstr(R"("type":"secret.version_created")"));
  EXPECT_THAT(sent.body, HasSubstr(R"("path":"db/password")"));
  EXPECT_THAT(sent.body, HasSubstr(R"("version":1)"));
  EXPECT_THAT(sent.body, Not(HasSubstr("hunter2")));
  // The same message id on every attempt; the signature verifies with the secret shown once.
  EXPECT_EQ(Header(sent, "webhook-id"), Header(receiver_.requests.front(), "webhook-id"));
  auto key = DecodeWebhookSecret(hook.secret.view());
  ASSERT_THAT(key, IsOk());
  const int64_t ts = std::stoll(Header(sent, "webhook-timestamp"));
  EXPECT_EQ(ts, env_.clock_.Now() / kMicrosPerSecond);
  EXPECT_EQ(Header(sent, "webhook-signature"),
            SignWebhook(*key, Header(sent, "webhook-id"), ts, sent.body));
}

TEST_F(WebhookDispatchTest, ARefusedAddressIsRetriedAndFinallyMarkedFailed) {
  const std::string vault = env_.NewVault("hooks");
  const CreatedWebhook hook = Create(vault, {"secret.version_created"});
  PutValue(vault, "k", "v");
  ASSERT_THAT(dispatcher_.DispatchOnce(), IsOkAndHolds(1u));
  for (int64_t attempt = 1; attempt <= kWebhookMaxAttempts; ++attempt) {
    receiver_.statuses = {0};
    ASSERT_THAT(dispatcher_.DeliverDue(), IsOkAndHolds(1u)) << attempt;
    env_.clock_.Advance(11 * 3600 * kMicrosPerSecond);
  }
  auto log = webhooks_.Deliveries(env_.AdminCtx(), vault, hook.endpoint.id, 50);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ((*log)[0].state, WebhookDeliveryState::kFailed);
  EXPECT_EQ((*log)[0].attempts, kWebhookMaxAttempts);
  EXPECT_THAT((*log)[0].last_error, HasSubstr("refused"));
  EXPECT_THAT(dispatcher_.DeliverDue(), IsOkAndHolds(0u));
}

TEST_F(WebhookDispatchTest, OnlyTheOwnerOrTheAdminManagesAndInputIsChecked) {
  const std::string vault = env_.NewVault("hooks");
  RequestContext stranger = env_.AdminCtx();
  stranger.principal = {PrincipalKind::kUser, "someone-else", "someone", false, ""};
  EXPECT_THAT(webhooks_.List(stranger, vault), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(
      webhooks_.Create(stranger, vault, {"https://hooks.example.com/", {"secret.rotated"}, ""}),
      StatusIs(StatusCode::kPermissionDenied));
  auto bad_events =
      webhooks_.Create(env_.AdminCtx(), vault, {"https://hooks.example.com/", {"secret.read"}, ""});
  EXPECT_THAT(bad_events, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_events.error().message(), HasSubstr("events"));
  auto bad_url = webhooks_.Create(env_.AdminCtx(), vault,
                                  {"http://hooks.example.com/", {"secret.rotated"}, ""});
  EXPECT_THAT(bad_url, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(bad_url.error().message(), HasSubstr("url"));
  const CreatedWebhook hook = Create(vault, {"secret.rotated"});
  // The secret is kept sealed, never as the text shown.
  auto stored = env_.store_->GetWebhook(vault, hook.endpoint.id);
  ASSERT_THAT(stored, IsOk());
  const std::string sealed(stored->sealed_secret.begin(), stored->sealed_secret.end());
  auto key = DecodeWebhookSecret(hook.secret.view());
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(sealed, Not(HasSubstr(std::string(key->view()))));
  ASSERT_THAT(webhooks_.SendTest(env_.AdminCtx(), vault, hook.endpoint.id), IsOk());
  ASSERT_THAT(dispatcher_.DeliverDue(), IsOkAndHolds(1u));
  EXPECT_THAT(receiver_.requests.back().body, HasSubstr(R"("type":"webhook.test")"));
  ASSERT_THAT(webhooks_.Delete(env_.AdminCtx(), vault, hook.endpoint.id), IsOk());
  EXPECT_THAT(webhooks_.Get(env_.AdminCtx(), vault, hook.endpoint.id),
              StatusIs(StatusCode::kNotFound));
}

}  // namespace
}  // namespace coffer
