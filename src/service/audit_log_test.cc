// AuditLog::Record with ctx.defer_audit: the event is appended in the background and its
// outcome, the one Record would have returned, arrives on the context's receipt.
#include "service/audit_log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "service/service_test_env.h"

namespace coffer {
namespace {

class DeferredAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PutSecretRequest r;
    r.type = "api_key";
    r.value = SecretBuffer("sk-deferred");
    ASSERT_TRUE(
        env_.secrets_->Put(env_.AdminCtx(), vault_, "api-keys/a", std::move(r)).has_value());
  }

  // The receipt's outcome, waited for at most 10 s.
  static Status OutcomeOf(const RequestContext& ctx) {
    EXPECT_NE(ctx.audit_receipt, nullptr);
    if (ctx.audit_receipt == nullptr) {
      return InternalError("no receipt");
    }
    std::promise<Status> outcome;
    auto future = outcome.get_future();
    ctx.audit_receipt->Then([&outcome](Status s) { outcome.set_value(std::move(s)); });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }

  size_t EventsFor(const std::string& request_id) {
    AuditQuery all;
    all.limit = 0;
    auto events = env_.store_->ListAudit(all);
    EXPECT_TRUE(events.has_value());
    size_t n = 0;
    for (const AuditEvent& e : events.value_or(std::vector<AuditEvent>{})) {
      n += e.request_id == request_id ? 1 : 0;
    }
    return n;
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault();
};

TEST_F(DeferredAuditTest, AReadAnswersAtOnceAndItsEventIsWrittenByTheTimeTheReceiptIsOk) {
  RequestContext ctx = env_.AdminCtx();
  ctx.request_id = "req-deferred-read";
  ctx.defer_audit = true;
  auto got = env_.secrets_->Get(ctx, vault_, "api-keys/a");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(ctx.audited) << "no second event may be written for the request";
  EXPECT_TRUE(OutcomeOf(ctx).ok());
  EXPECT_EQ(EventsFor("req-deferred-read"), 1u);
}

TEST_F(DeferredAuditTest, WithoutDeferralThereIsNoReceipt) {
  RequestContext ctx = env_.AdminCtx();
  ASSERT_TRUE(env_.secrets_->Get(ctx, vault_, "api-keys/a").has_value());
  EXPECT_EQ(ctx.audit_receipt, nullptr);
  EXPECT_TRUE(ctx.audited);
}

TEST_F(DeferredAuditTest, AnEventThatCannotBeWrittenFailsTheReceiptClosed) {
  env_.BreakAuditTable();
  RequestContext ctx = env_.AdminCtx();
  ctx.request_id = "req-deferred-broken";
  ctx.defer_audit = true;
  // The read itself succeeds; its answer must not be given, which the receipt says.
  ASSERT_TRUE(env_.secrets_->Get(ctx, vault_, "api-keys/a").has_value());
  const Status outcome = OutcomeOf(ctx);
  EXPECT_EQ(outcome.code(), StatusCode::kUnavailable);
  EXPECT_EQ(outcome.message().find("sk-deferred"), std::string::npos);

  // The same without deferral fails the call itself, with the same error.
  RequestContext waited = env_.AdminCtx();
  auto refused = env_.secrets_->Get(waited, vault_, "api-keys/a");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), outcome);
}

TEST_F(DeferredAuditTest, AWriteIsNotDeferredItsEventIsInItsOwnTransaction) {
  RequestContext ctx = env_.AdminCtx();
  ctx.request_id = "req-deferred-write";
  ctx.defer_audit = true;
  PutSecretRequest r;
  r.type = "api_key";
  r.value = SecretBuffer("sk-next");
  ASSERT_TRUE(env_.secrets_->Put(ctx, vault_, "api-keys/a", std::move(r)).has_value());
  EXPECT_EQ(ctx.audit_receipt, nullptr);
  EXPECT_EQ(EventsFor("req-deferred-write"), 1u);
}

TEST_F(DeferredAuditTest, TheLogWaitsForEventsStillBeingAppendedBeforeItGoes) {
  // Many reads in flight, then the AuditLog is destroyed at once: it must wait for every
  // outcome (the callbacks refer to it), and every event is written.
  std::vector<RequestContext> contexts;
  for (int i = 0; i < 50; ++i) {
    RequestContext ctx = env_.AdminCtx();
    ctx.request_id = "req-burst-" + std::to_string(i);
    ctx.defer_audit = true;
    ASSERT_TRUE(
        env_.audit_->Record(ctx, env_.audit_->NewEvent(ctx, "secret.read"), OkStatus()).ok());
    contexts.push_back(std::move(ctx));
  }
  env_.audit_service_.reset();
  env_.policies_.reset();
  env_.agents_.reset();
  env_.users_.reset();
  env_.secrets_.reset();
  env_.vaults_.reset();
  env_.auth_.reset();
  env_.deps_.reset();
  env_.audit_.reset();
  for (const RequestContext& ctx : contexts) {
    EXPECT_TRUE(OutcomeOf(ctx).ok());
    EXPECT_EQ(EventsFor(ctx.request_id), 1u);
  }
}

}  // namespace
}  // namespace coffer
