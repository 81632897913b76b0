// UsageRecorder: plain reads and agents' requests are counted in memory and reach the store
// only in a flush (by call or by the background thread on the fake monotonic clock), counted
// reads stay exact, and batches add up.
#include "service/usage_recorder.h"

#include <gtest/gtest.h>

#include <chrono>

#include "common/status_matchers.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

constexpr std::chrono::milliseconds kInterval{5000};

class UsageRecorderTest : public ::testing::Test {
 protected:
  UsageRecorderTest() : recorder_(*env_.store_, flush_clock_, kInterval) {
    ServiceDeps deps = *env_.deps_;
    deps.usage = &recorder_;
    secrets_ = std::make_unique<SecretService>(deps, *env_.keyring_);
    auth_ = std::make_unique<AuthService>(deps, *env_.keyring_,
                                          AuthService::Options{std::chrono::seconds(60)});
    vault_ = env_.NewVault();
  }

  void PutSecret(const std::string& path, int64_t max_access_count = 0) {
    PutSecretRequest put;
    put.type = "password";
    put.value = SecretBuffer(std::string_view("hunter2"));
    put.max_access_count = max_access_count;
    ASSERT_THAT(secrets_->Put(env_.AdminCtx(), vault_, path, std::move(put)), IsOk());
  }

  SecretVersion Stored(const std::string& path) {
    return env_.store_->GetSecretVersion(vault_, path, VersionSelector::LatestAny()).value();
  }

  ServiceTestEnv env_;
  // The recorder's own clock: the store waits on the environment's, which would blur the count
  // of the recorder's waits.
  FakeMonotonicClock flush_clock_;
  UsageRecorder recorder_;
  std::unique_ptr<SecretService> secrets_;
  std::unique_ptr<AuthService> auth_;
  std::string vault_;
};

TEST_F(UsageRecorderTest, PlainReadsReachTheStoreOnlyWhenFlushed) {
  PutSecret("db/password");
  ASSERT_THAT(secrets_->Get(env_.AdminCtx(), vault_, "db/password"), IsOk());
  env_.clock_.Advance(7 * kMicrosPerSecond);
  const UnixMicros second_read = env_.clock_.Now();
  ASSERT_THAT(secrets_->Get(env_.AdminCtx(), vault_, "db/password"), IsOk());

  SecretVersion before = Stored("db/password");
  EXPECT_EQ(before.access_count, 0);
  EXPECT_FALSE(before.last_read_at.has_value());
  EXPECT_EQ(before.secret_read_count, 0);

  ASSERT_THAT(recorder_.Flush(), IsOk());
  SecretVersion after = Stored("db/password");
  EXPECT_EQ(after.access_count, 2);
  EXPECT_EQ(after.last_read_at, second_read);
  EXPECT_EQ(after.last_read_by, env_.admin_.id);
  EXPECT_EQ(after.secret_read_count, 2);
  EXPECT_EQ(after.secret_last_read_at, second_read);
  EXPECT_EQ(after.secret_last_read_by, env_.admin_.id);

  // A second batch adds to the first.
  ASSERT_THAT(secrets_->Get(env_.AdminCtx(), vault_, "db/password"), IsOk());
  ASSERT_THAT(recorder_.Flush(), IsOk());
  EXPECT_EQ(Stored("db/password").access_count, 3);
  EXPECT_EQ(Stored("db/password").secret_read_count, 3);
}

TEST_F(UsageRecorderTest, CountedReadsStayExactAndGainTheirLastRead) {
  PutSecret("one-time", /*max_access_count=*/3);
  ASSERT_THAT(secrets_->Get(env_.AdminCtx(), vault_, "one-time"), IsOk());
  // Counted at once, durably, as before.
  EXPECT_EQ(Stored("one-time").access_count, 1);
  ASSERT_THAT(recorder_.Flush(), IsOk());
  const SecretVersion v = Stored("one-time");
  EXPECT_EQ(v.access_count, 1);  // not counted twice
  EXPECT_EQ(v.last_read_at, env_.clock_.Now());
  EXPECT_EQ(v.secret_read_count, 1);
}

TEST_F(UsageRecorderTest, TheBackgroundThreadFlushesEveryInterval) {
  PutSecret("api/key");
  recorder_.Start({});
  ASSERT_TRUE(flush_clock_.AwaitWaiting(1));
  const uint64_t waits = flush_clock_.waits();
  ASSERT_THAT(secrets_->Get(env_.AdminCtx(), vault_, "api/key"), IsOk());

  flush_clock_.Advance(kInterval - std::chrono::milliseconds(1));
  EXPECT_EQ(Stored("api/key").access_count, 0);  // not yet due

  flush_clock_.Advance(std::chrono::milliseconds(1));
  // The thread has flushed once it waits again.
  ASSERT_TRUE(flush_clock_.AwaitWaits(waits + 1));
  EXPECT_EQ(Stored("api/key").access_count, 1);
}

TEST_F(UsageRecorderTest, AnAgentsAuthenticatedRequestsSetItsLastUse) {
  auto agent = env_.agents_->Create(env_.AdminCtx(), {"deployer", ""});
  ASSERT_THAT(agent, IsOk());
  ASSERT_THAT(auth_->Authenticate(Bearer(agent->api_key)), IsOk());
  EXPECT_FALSE(env_.store_->GetAgent(agent->agent.id)->last_used_at.has_value());
  ASSERT_THAT(recorder_.Flush(), IsOk());
  EXPECT_EQ(env_.store_->GetAgent(agent->agent.id)->last_used_at, env_.clock_.Now());
}

TEST_F(UsageRecorderTest, FlushingNothingWritesNothing) {
  EXPECT_THAT(recorder_.Flush(), IsOk());
  EXPECT_EQ(recorder_.dropped(), 0u);
}

}  // namespace
}  // namespace coffer
