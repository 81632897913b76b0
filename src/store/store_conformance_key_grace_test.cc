// Conformance tests for key grace windows: RotateWithGrace (a future revoked_at for the retired
// API keys, at once for the rest), NextEndedGrace and EndKeyGrace (the end audited exactly once,
// also when several threads race for it), early revocation, and the last-admin rule.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

constexpr UnixMicros kGrace = 3600 * kMicrosPerSecond;

Credential UserApiKey(std::string_view user_id, std::string public_id) {
  Credential c = AgentCredential(user_id, std::move(public_id));
  c.principal_kind = PrincipalKind::kUser;
  return c;
}

size_t CountAction(const std::vector<AuditEvent>& events, std::string_view action) {
  size_t n = 0;
  for (const AuditEvent& e : events) n += e.action == action ? 1 : 0;
  return n;
}

TEST_P(StoreConformanceTest, AnAgentRotationWithGraceKeepsTheOldKeyUntilItsEnd) {
  const Agent a = AddAgent("worker");
  ASSERT_THAT(store().InsertCredential(AgentCredential(a.id, "worker-rot", "rot"), nullptr),
              IsOk());
  AuditEvent event = MakeEvent("agent.rotate_key");
  ASSERT_THAT(
      store().RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kAgent,
                                            .principal_id = a.id,
                                            .fresh = {AgentCredential(a.id, "new-key"),
                                                      AgentCredential(a.id, "new-rot", "rot")},
                                            .at = kT0 + 10,
                                            .keys_until = kT0 + 10 + kGrace},
                              &event),
      IsOk());
  EXPECT_EQ(store().GetCredential("worker-key")->revoked_at, kT0 + 10 + kGrace);
  EXPECT_EQ(store().GetCredential("worker-rot")->revoked_at, kT0 + 10);
  EXPECT_FALSE(store().GetCredential("new-key")->revoked_at.has_value());
  EXPECT_FALSE(store().GetCredential("new-rot")->revoked_at.has_value());
  EXPECT_EQ(CountAction(AllAudit(), "agent.rotate_key"), 1u);

  // Not ended yet.
  auto none = store().NextEndedGrace(kT0 + 10 + kGrace - 1);
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  EXPECT_THAT(store().EndKeyGrace("worker-key", kT0 + 10 + kGrace - 1, nullptr),
              StatusIs(StatusCode::kAborted));
  // Ended: found, and its end audited once.
  auto ended = store().NextEndedGrace(kT0 + 10 + kGrace);
  ASSERT_THAT(ended, IsOk());
  ASSERT_TRUE(ended->has_value());
  EXPECT_EQ((*ended)->public_id, "worker-key");
  EXPECT_EQ((*ended)->principal_id, a.id);
  AuditEvent end = MakeEvent("agent.key_grace_ended");
  EXPECT_THAT(store().EndKeyGrace("worker-key", kT0 + 10 + kGrace, &end), IsOk());
  EXPECT_THAT(store().EndKeyGrace("worker-key", kT0 + 10 + kGrace, &end),
              StatusIs(StatusCode::kAborted));
  EXPECT_EQ(CountAction(AllAudit(), "agent.key_grace_ended"), 1u);
  auto after = store().NextEndedGrace(kT0 + 100 * kGrace);
  ASSERT_THAT(after, IsOk());
  EXPECT_FALSE(after->has_value());
}

TEST_P(StoreConformanceTest, ConcurrentSweepsAuditAGracesEndOnce) {
  const Agent a = AddAgent("raced");
  ASSERT_THAT(store().RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kAgent,
                                                    .principal_id = a.id,
                                                    .fresh = {AgentCredential(a.id, "fresh")},
                                                    .at = kT0,
                                                    .keys_until = kT0 + 1},
                                      nullptr),
              IsOk());
  std::atomic<int> ok = 0;
  std::atomic<int> unexpected = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      AuditEvent end = MakeEvent("agent.key_grace_ended");
      Status s = store().EndKeyGrace("raced-key", kT0 + 5, &end);
      if (s.ok()) {
        ++ok;
      } else if (s.code() != StatusCode::kAborted) {
        ++unexpected;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(CountAction(AllAudit(), "agent.key_grace_ended"), 1u);
}

TEST_P(StoreConformanceTest, AUserKeyRotationWithGraceAndItsRefusals) {
  const User u{NewUuid(), "alice", false, kT0};
  ASSERT_THAT(store().InsertUser(u, nullptr), IsOk());
  ASSERT_THAT(store().InsertCredential(UserApiKey(u.id, "alice-1"), nullptr), IsOk());
  const auto rotation = [&](std::string old_id, std::string fresh_id, UnixMicros until) {
    return GraceRotation{.principal_kind = PrincipalKind::kUser,
                         .principal_id = u.id,
                         .old_key_id = std::move(old_id),
                         .fresh = {UserApiKey(u.id, std::move(fresh_id))},
                         .at = kT0,
                         .keys_until = until};
  };
  EXPECT_THAT(store().RotateWithGrace(rotation("nope", "x1", kT0 + kGrace), nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().RotateWithGrace(rotation("alice-1", "x2", kT0 - 1), nullptr),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().GetCredential("x1"), StatusIs(StatusCode::kNotFound)) << "nothing inserted";
  ASSERT_THAT(store().RotateWithGrace(rotation("alice-1", "alice-2", kT0 + kGrace), nullptr),
              IsOk());
  EXPECT_EQ(store().GetCredential("alice-1")->revoked_at, kT0 + kGrace);
  // A key in its grace window is not rotated again.
  EXPECT_THAT(store().RotateWithGrace(rotation("alice-1", "alice-3", kT0 + kGrace), nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  // Revoking it ends the window now, without a grace-ended event to come.
  ASSERT_THAT(store().RevokeCredential("alice-1", kT0 + 7, nullptr), IsOk());
  EXPECT_EQ(store().GetCredential("alice-1")->revoked_at, kT0 + 7);
  auto next = store().NextEndedGrace(kT0 + 2 * kGrace);
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(next->has_value());
  // Grace 0: the old key stops at once and nothing is left to sweep.
  ASSERT_THAT(store().RotateWithGrace(rotation("alice-2", "alice-4", kT0), nullptr), IsOk());
  EXPECT_EQ(store().GetCredential("alice-2")->revoked_at, kT0);
  next = store().NextEndedGrace(kT0 + 2 * kGrace);
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(next->has_value());
}

TEST_P(StoreConformanceTest, AnAdminKeyInItsGraceCountsAsGoingAway) {
  const User admin{NewUuid(), "admin", true, kT0};
  ASSERT_THAT(store().InsertUser(admin, nullptr), IsOk());
  ASSERT_THAT(store().InsertCredential(UserApiKey(admin.id, "admin-1"), nullptr), IsOk());
  ASSERT_THAT(store().RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kUser,
                                                    .principal_id = admin.id,
                                                    .old_key_id = "admin-1",
                                                    .fresh = {UserApiKey(admin.id, "admin-2")},
                                                    .at = kT0,
                                                    .keys_until = kT0 + kGrace},
                                      nullptr),
              IsOk());
  // The new key is the last one that is not going away: it is never revoked.
  EXPECT_THAT(store().RevokeCredential("admin-2", kT0 + 1, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  // The old one may be cut short.
  EXPECT_THAT(store().RevokeCredential("admin-1", kT0 + 1, nullptr), IsOk());
}

TEST_P(StoreConformanceTest, RotateWithGraceRefusesRevokedAndUnknownAgents) {
  const Agent a = AddAgent("gone");
  ASSERT_THAT(store().RevokeAgent(a.id, kT0, nullptr), IsOk());
  EXPECT_THAT(store().RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kAgent,
                                                    .principal_id = a.id,
                                                    .fresh = {AgentCredential(a.id, "k2")},
                                                    .at = kT0,
                                                    .keys_until = kT0 + kGrace},
                                      nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kAgent,
                                                    .principal_id = "no-such-agent",
                                                    .fresh = {},
                                                    .at = kT0,
                                                    .keys_until = kT0},
                                      nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kAgent,
                                                    .principal_id = a.id,
                                                    .fresh = {AgentCredential("other", "k3")},
                                                    .at = kT0,
                                                    .keys_until = kT0},
                                      nullptr),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace coffer::store_testing
