// GatewayService and BindingService over a real SQLite store with a fake upstream: the
// credential attached and its echo redacted, guardrails and rate limits refusing (and recorded),
// `use` enough where `read` is refused, and the kill switch stopping a call in flight when its
// binding is deactivated.
#include "service/gateway_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "common/status_matchers.h"
#include "service/binding_service.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kValue = "sk-unit-test-credential-9f8e7d";

// An upstream that answers at once with what it got (the Authorization header echoed in the
// body), or, for paths starting "hold", sends the head and waits until cancelled.
class FakeUpstream : public gateway::UpstreamClient {
 public:
  class Call : public gateway::UpstreamCall {
   public:
    explicit Call(std::shared_ptr<gateway::UpstreamSink> sink) : sink_(std::move(sink)) {}
    void Cancel() override {
      std::shared_ptr<gateway::UpstreamSink> sink;
      {
        std::lock_guard lock(mu_);
        sink.swap(sink_);
      }
      if (sink != nullptr) sink->OnDone(Status(StatusCode::kCancelled, "cancelled"));
    }

   private:
    std::mutex mu_;
    std::shared_ptr<gateway::UpstreamSink> sink_;
  };

  std::shared_ptr<gateway::UpstreamCall> Start(
      gateway::UpstreamRequest request, std::shared_ptr<gateway::UpstreamSink> sink) override {
    std::string authorization;
    for (const auto& [name, value] : request.headers) {
      if (name == "authorization") authorization = value;
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    sink->OnHead(
        200, {{"content-type", "text/plain"}, {"set-cookie", "a=b"}, {"x-echo", authorization}});
    if (request.url.find("/hold") != std::string::npos) {
      auto call = std::make_shared<Call>(sink);
      std::lock_guard lock(mu_);
      held_.push_back(call);
      return call;
    }
    // The echo split across two chunks, through the middle of the credential.
    const std::string echo = "you sent: " + authorization;
    (void)sink->OnBody(std::string_view(echo).substr(0, 20));
    (void)sink->OnBody(std::string_view(echo).substr(20));
    sink->OnDone(OkStatus());
    return nullptr;
  }

  std::vector<gateway::UpstreamRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<gateway::UpstreamRequest> requests_;
  std::vector<std::shared_ptr<Call>> held_;
};

// Collects a streamed answer.
class Collect : public GatewayStreamSink {
 public:
  void OnHead(int status, std::vector<std::pair<std::string, std::string>>) override {
    status_ = status;
  }
  bool OnBody(std::string_view bytes) override {
    body_.append(bytes);
    return true;
  }
  void OnDone(Status status) override {
    std::lock_guard lock(mu_);
    done_ = std::move(status);
    cv_.notify_all();
  }
  Status Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_.has_value(); });
    return *done_;
  }
  int status_ = 0;
  std::string body_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Status> done_;
};

class GatewayServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vault_ = env_.NewVault();
    PutSecretRequest put;
    put.type = "api_key";
    put.value = SecretBuffer(kValue);
    ASSERT_THAT(env_.secrets_->Put(env_.AdminCtx(), vault_, "openai/key", std::move(put)), IsOk());
    auto agent = env_.agents_->Create(env_.AdminCtx(), {"bot", ""});
    ASSERT_THAT(agent, IsOk());
    agent_id_ = agent->agent.id;
    ASSERT_THAT(env_.policies_->Create(env_.AdminCtx(), vault_,
                                       PolicyGrant("agent", agent_id_, "openai/*", {"use"})),
                IsOk());
    bindings_ = std::make_unique<BindingService>(*env_.deps_, *env_.secrets_,
                                                 gateway::EgressGuard(), &upstream_);
    GatewayOptions options;
    options.agent_rpm = 5;
    gateway_ = std::make_unique<GatewayService>(*env_.deps_, *env_.secrets_, upstream_, options);
    gateway_->Start();
    CreateBindingRequest create;
    create.name = "openai";
    create.config_json = R"({"base_url":"https://api.example.com/v1"})";
    create.guardrails_json = R"({"allowed_paths":["chat/*","hold"],"max_requests_per_minute":3})";
    create.vault_id = vault_;
    create.path = "openai/key";
    auto b = bindings_->Create(env_.AdminCtx(), agent_id_, std::move(create));
    ASSERT_THAT(b, IsOk());
    binding_ = *b;
  }
  void TearDown() override { gateway_->Stop(); }

  RequestContext AgentCtx() const {
    return {Principal{PrincipalKind::kAgent, agent_id_, "bot", false, ""}, "req-agent",
            "127.0.0.1"};
  }
  GatewayCallRequest Call(std::string path, std::string method = "POST") {
    GatewayCallRequest r;
    r.binding = "openai";
    r.method = std::move(method);
    r.path = std::move(path);
    r.headers = {{"authorization", "Bearer the-agents-own-key"}, {"x-extra", "1"}};
    r.body = "{}";
    return r;
  }

  ServiceTestEnv env_;
  FakeUpstream upstream_;
  std::string vault_;
  std::string agent_id_;
  Binding binding_;
  std::unique_ptr<BindingService> bindings_;
  std::unique_ptr<GatewayService> gateway_;
};

TEST_F(GatewayServiceTest, ExecuteAttachesTheCredentialAndRedactsItsEcho) {
  // `use` alone: reading the value is refused.
  EXPECT_THAT(env_.secrets_->Get(AgentCtx(), vault_, "openai/key"),
              StatusIs(StatusCode::kPermissionDenied));
  auto result = gateway_->Execute(AgentCtx(), "self", Call("/chat/completions"));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->status, "success");
  EXPECT_EQ(result->status_code, 200);
  EXPECT_EQ(result->body, "you sent: Bearer [REDACTED]");
  EXPECT_EQ(result->redactions, 1);  // the body (the x-echo header is not passed on)
  for (const auto& [name, value] : result->headers) {
    EXPECT_NE(name, "set-cookie");
    EXPECT_NE(name, "x-echo");
  }
  const auto sent = upstream_.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].url, "https://api.example.com/v1/chat/completions");
  int authorizations = 0;
  for (const auto& [name, value] : sent[0].headers) {
    if (name == "authorization") {
      ++authorizations;
      EXPECT_EQ(value, "Bearer " + std::string(kValue));
    }
  }
  EXPECT_EQ(authorizations, 1);

  auto records = gateway_->ListExecutions(AgentCtx(), "self", std::nullopt, std::nullopt);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].id, result->execution_id);
  EXPECT_EQ((*records)[0].path, "/v1/chat/completions");
  EXPECT_EQ((*records)[0].upstream_status, 200);
  EXPECT_EQ((*records)[0].secret_version, 1);
}

TEST_F(GatewayServiceTest, RefusalsAreRecordedAndTheRateLimitSaysWhenToRetry) {
  EXPECT_THAT(gateway_->Execute(AgentCtx(), "self", Call("admin")),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("path")));
  EXPECT_THAT(gateway_->Execute(AgentCtx(), "self", Call("chat/../admin")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(gateway_->Execute(AgentCtx(), "self", Call("chat/x", "TRACE")),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("method")));
  GatewayCallRequest missing = Call("chat/x");
  missing.binding = "nope";
  EXPECT_THAT(gateway_->Execute(AgentCtx(), "self", std::move(missing)),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(gateway_->Execute(env_.AdminCtx(), agent_id_, Call("chat/x")),
              StatusIs(StatusCode::kPermissionDenied));
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(gateway_->Execute(AgentCtx(), "self", Call("chat/x")), IsOk());
  }
  auto refused = gateway_->Execute(AgentCtx(), "self", Call("chat/x"));
  ASSERT_THAT(refused,
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("max_requests_per_minute")));
  EXPECT_GT(refused.error().payload().retry_after.count(), 0);
  EXPECT_LE(refused.error().payload().retry_after, std::chrono::seconds(60));
  auto records = gateway_->ListExecutions(env_.AdminCtx(), agent_id_, 100, std::nullopt);
  ASSERT_THAT(records, IsOk());
  int denied = 0;
  for (const ExecutionRecord& r : *records) denied += r.status == "denied" ? 1 : 0;
  EXPECT_EQ(denied, 3);  // path, method, rate (the bad path is "error")
}

TEST(LeaseBlockTest, ATenthOfTheLimitUpTo500) {
  EXPECT_EQ(LeaseBlock(0), 1);
  EXPECT_EQ(LeaseBlock(3), 1);
  EXPECT_EQ(LeaseBlock(19), 1);
  EXPECT_EQ(LeaseBlock(40), 4);
  EXPECT_EQ(LeaseBlock(600), 60);
  EXPECT_EQ(LeaseBlock(5000), 500);
  EXPECT_EQ(LeaseBlock(100000), 500);
}

TEST_F(GatewayServiceTest, TwoServersLeasingUsesNeverPassTheSharedLimit) {
  CreateBindingRequest create;
  create.name = "leased";
  create.config_json = R"({"base_url":"https://api.example.com/v1"})";
  create.guardrails_json = R"({"allowed_paths":["chat/*"],"max_requests_per_minute":40})";
  create.vault_id = vault_;
  create.path = "openai/key";
  ASSERT_THAT(bindings_->Create(env_.AdminCtx(), agent_id_, std::move(create)), IsOk());
  GatewayOptions options;
  options.agent_rpm = 1000;  // the binding's 40 a minute (blocks of 4) is the limit that counts
  GatewayService a(*env_.deps_, *env_.secrets_, upstream_, options);
  GatewayService b(*env_.deps_, *env_.secrets_, upstream_, options);
  int allowed = 0;
  for (int i = 0; i < 60; ++i) {
    GatewayCallRequest call = Call("chat/x");
    call.binding = "leased";
    auto result = (i % 2 == 0 ? a : b).Execute(AgentCtx(), "self", std::move(call));
    if (result.has_value()) {
      ++allowed;
    } else {
      EXPECT_THAT(result, StatusIs(StatusCode::kResourceExhausted));
    }
  }
  EXPECT_EQ(allowed, 40);  // both spent their blocks: exactly the limit, never more
}

TEST_F(GatewayServiceTest, DeactivatingTheBindingStopsACallInFlight) {
  auto sink = std::make_shared<Collect>();
  auto call = gateway_->Stream(AgentCtx(), Call("hold"), sink);
  ASSERT_THAT(call, IsOk());
  EXPECT_EQ(gateway_->InFlight(), 1u);
  UpdateBindingRequest off;
  off.is_active = false;
  ASSERT_THAT(bindings_->Update(env_.AdminCtx(), agent_id_, binding_.id, std::move(off)), IsOk());
  // The change feed wakes the watch, which stops the call (no poll interval waited for).
  EXPECT_THAT(sink->Wait(), StatusIs(StatusCode::kCancelled, HasSubstr("deactivated")));
  EXPECT_THAT(gateway_->Execute(AgentCtx(), "self", Call("chat/x")),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("deactivated")));
}

TEST_F(GatewayServiceTest, OnlyAReaderOfTheSecretOrTheAdminMakesABinding) {
  auto user = env_.users_->Create(env_.AdminCtx(), "someone");
  ASSERT_THAT(user, IsOk());
  const RequestContext someone{Principal{PrincipalKind::kUser, user->id, "someone", false, ""},
                               "req-user", "127.0.0.1"};
  CreateBindingRequest create;
  create.name = "steal";
  create.config_json = R"({"base_url":"https://evil.example.com"})";
  create.vault_id = vault_;
  create.path = "openai/key";
  EXPECT_THAT(bindings_->Create(someone, agent_id_, create),
              StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(bindings_->Create(AgentCtx(), agent_id_, create),
              StatusIs(StatusCode::kPermissionDenied));
  create.config_json = R"({"base_url":"http://10.0.0.1"})";
  EXPECT_THAT(bindings_->Create(env_.AdminCtx(), agent_id_, create),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("config.base_url")));
  // The agent sees its own.
  auto listed = bindings_->List(AgentCtx(), "self");
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "openai");
}

TEST(UpstreamPathTest, NormalisesOrRefuses) {
  EXPECT_EQ(NormaliseUpstreamPath("/v1/chat").value(), "v1/chat");
  EXPECT_EQ(NormaliseUpstreamPath("v1/a%20b/").value(), "v1/a%20b/");
  EXPECT_EQ(NormaliseUpstreamPath("").value(), "");
  for (const char* bad : {"a//b", "a/../b", "a/%2e%2E/b", "a/./b", "a%2Fb", "a b", "a\r\nb",
                          "a%0d%0ab", "a%zz", "a%4", "a\\b", "a#b", "a?b"}) {
    EXPECT_THAT(NormaliseUpstreamPath(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ValidateUpstreamQuery("a=1&b=%20"), IsOk());
  EXPECT_EQ(DropQueryParam("key=a&x=1&k%65y=b&key", "key"), "x=1");
  EXPECT_EQ(DropQueryParam("", "key"), "");
  EXPECT_THAT(ValidateUpstreamQuery("a=1\r\nHost: x"), StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace coffer
