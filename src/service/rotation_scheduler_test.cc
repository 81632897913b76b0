// RotationScheduler and the schedule rules of SecretService, on a real store with a fake clock:
// due rotations happen once per due time (missed ones caught up once), notify writes only an
// event, previous versions are disabled after their grace, expiry events fire once, and every
// event names the system actor.
#include "service/rotation_scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr UnixMicros kSecond = kMicrosPerSecond;

class RotationSchedulerTest : public ::testing::Test {
 protected:
  StatusOr<SecretVersion> Put(std::string_view path, std::string policy = "",
                              std::optional<UnixMicros> expires_at = std::nullopt) {
    PutSecretRequest r;
    r.type = "api_key";
    r.value = SecretBuffer(std::string_view("initial-value"));
    r.rotation_policy_json = std::move(policy);
    r.expires_at = expires_at;
    return env_.secrets_->Put(env_.AdminCtx(), vault_, path, std::move(r));
  }
  std::vector<AuditEvent> Events(std::string_view action) {
    AuditQuery q;
    q.action = std::string(action);
    q.limit = 0;
    return env_.store_->ListAudit(q).value();
  }
  int64_t Versions(std::string_view path) {
    return static_cast<int64_t>(env_.store_->ListSecretVersions(vault_, path).value().size());
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault();
  RotationScheduler scheduler_{*env_.deps_, *env_.keyring_, RotationSchedulerOptions{}};
};

TEST_F(RotationSchedulerTest, APolicyOnAWriteSchedulesTheSecret) {
  auto v = Put("db", R"({"interval":"1h"})");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->next_rotation_at, ServiceTestEnv::kStart + 3600 * kSecond);
  EXPECT_EQ(v->rotation_policy_json, R"({"interval":"1h"})");  // kept as sent
  auto got = env_.secrets_->Get(env_.AdminCtx(), vault_, "db");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->meta.next_rotation_at, ServiceTestEnv::kStart + 3600 * kSecond);
  auto bad = Put("db", R"({"interval":"1s"})");
  ASSERT_THAT(bad, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(bad.error().message()), HasSubstr("rotation_policy.interval"));
  EXPECT_EQ(Versions("db"), 1);  // a refused policy writes nothing
}

TEST_F(RotationSchedulerTest, RotatesOncePerDueTimeAndCatchesUpOnce) {
  ASSERT_THAT(Put("db", R"({"interval":"1h","generate":{"length":40,"charset":"alphanumeric"}})"),
              IsOk());
  auto pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->rotated, 0);  // not due yet
  env_.clock_.Advance(3600 * kSecond);
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->rotated, 1);
  EXPECT_EQ(Versions("db"), 2);
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->rotated, 0);  // the same due time is not done twice
  auto value = env_.secrets_->Get(env_.AdminCtx(), vault_, "db");
  ASSERT_THAT(value, IsOk());
  EXPECT_EQ(value->value.size(), 40u);
  EXPECT_EQ(value->meta.created_by, "rotation-scheduler");
  EXPECT_EQ(value->meta.next_rotation_at, ServiceTestEnv::kStart + 2 * 3600 * kSecond);

  // Down for five and a half hours: one rotation, then the next on the hour grid after now.
  env_.clock_.Advance(19800 * kSecond);
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->rotated, 1);
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->rotated, 0);
  EXPECT_EQ(Versions("db"), 3);
  auto sched = env_.store_->GetSecretSchedule(vault_, "db");
  ASSERT_THAT(sched, IsOk());
  EXPECT_EQ((*sched)->next_rotation_at, ServiceTestEnv::kStart + 7 * 3600 * kSecond);

  const std::vector<AuditEvent> rotations = Events("secret.rotate");
  ASSERT_THAT(rotations, SizeIs(2));
  EXPECT_EQ(rotations[0].actor_kind, "system");
  EXPECT_EQ(rotations[0].actor_id, "rotation-scheduler");
  EXPECT_EQ(rotations[0].path, "db");
  EXPECT_EQ(rotations[0].vault_id, vault_);
  EXPECT_EQ(rotations[0].version, 2);
  EXPECT_EQ(rotations[1].version, 3);
}

TEST_F(RotationSchedulerTest, NotifyRecordsRotationDueAndWritesNothing) {
  ASSERT_THAT(Put("provider", R"({"interval":"1h","action":"notify"})"), IsOk());
  env_.clock_.Advance(3600 * kSecond);
  auto pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->notified, 1);
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->notified, 0);
  EXPECT_EQ(Versions("provider"), 1);
  const std::vector<AuditEvent> due = Events("secret.rotation_due");
  ASSERT_THAT(due, SizeIs(1));
  EXPECT_EQ(due[0].actor_kind, "system");
  EXPECT_EQ(due[0].version, 1);
  EXPECT_EQ(due[0].path, "provider");
}

TEST_F(RotationSchedulerTest, ThePreviousVersionIsDisabledAfterItsGrace) {
  ASSERT_THAT(
      Put("db", R"({"interval":"1h","previous":{"action":"disable","grace_seconds":"10m"}})"),
      IsOk());
  env_.clock_.Advance(3600 * kSecond);
  ASSERT_THAT(scheduler_.RunOnce(), IsOk());
  auto v1 = env_.store_->GetSecretVersion(vault_, "db", VersionSelector::Exact(1));
  ASSERT_THAT(v1, IsOk());
  EXPECT_FALSE(v1->is_disabled());  // still in its grace
  env_.clock_.Advance(600 * kSecond);
  auto pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->disabled, 1);
  v1 = env_.store_->GetSecretVersion(vault_, "db", VersionSelector::Exact(1));
  ASSERT_THAT(v1, IsOk());
  EXPECT_TRUE(v1->is_disabled());
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->disabled, 0);
  const std::vector<AuditEvent> disabled = Events("secret.disable_version");
  ASSERT_THAT(disabled, SizeIs(1));
  EXPECT_EQ(disabled[0].version, 1);
  EXPECT_EQ(disabled[0].actor_id, "rotation-scheduler");
}

TEST_F(RotationSchedulerTest, ExpiringAndExpiredAreRecordedOnce) {
  const UnixMicros expires = ServiceTestEnv::kStart + 10 * 86400 * kSecond;
  ASSERT_THAT(Put("cert", "", expires), IsOk());
  ASSERT_THAT(scheduler_.RunOnce(), IsOk());
  EXPECT_THAT(Events("secret.expiring"), SizeIs(0));  // 10 days out, warning is 7
  env_.clock_.Advance(3 * 86400 * kSecond);
  auto pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->expiring, 1);
  ASSERT_THAT(scheduler_.RunOnce(), IsOk());
  ASSERT_THAT(Events("secret.expiring"), SizeIs(1));
  env_.clock_.Set(expires);
  pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->expired, 1);
  ASSERT_THAT(scheduler_.RunOnce(), IsOk());
  const std::vector<AuditEvent> expired = Events("secret.expired");
  ASSERT_THAT(expired, SizeIs(1));
  EXPECT_EQ(expired[0].version, 1);
  EXPECT_EQ(expired[0].path, "cert");
  EXPECT_EQ(expired[0].actor_kind, "system");
}

TEST_F(RotationSchedulerTest, ScheduleAndUnscheduleWithoutANewVersion) {
  ASSERT_THAT(Put("db"), IsOk());
  auto s = env_.secrets_->Schedule(env_.AdminCtx(), vault_, "db", R"({"cron":"0 3 * * *"})");
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->next_rotation_at, ServiceTestEnv::kStart + 3 * 3600 * kSecond);
  EXPECT_EQ(Versions("db"), 1);
  EXPECT_THAT(env_.secrets_->Schedule(env_.AdminCtx(), vault_, "db", "{}"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(env_.secrets_->Schedule(env_.AdminCtx(), vault_, "nothing", R"({"interval":"1h"})"),
              StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(env_.secrets_->Unschedule(env_.AdminCtx(), vault_, "db"), IsOk());
  env_.clock_.Advance(86400 * kSecond);
  auto pass = scheduler_.RunOnce();
  ASSERT_THAT(pass, IsOk());
  EXPECT_EQ(pass->rotated, 0);
  const std::vector<AuditEvent> scheduled = Events("secret.schedule");
  ASSERT_THAT(scheduled, SizeIs(3));  // the refusals are audited too
  EXPECT_EQ(scheduled[0].outcome, "success");
  EXPECT_EQ(scheduled[1].status, "INVALID_ARGUMENT");
  EXPECT_EQ(scheduled[2].status, "NOT_FOUND");
  EXPECT_THAT(Events("secret.unschedule"), SizeIs(1));
}

}  // namespace
}  // namespace coffer
