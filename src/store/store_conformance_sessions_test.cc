// Conformance tests for dashboard sessions: stored by token hash with their audit event, found,
// deleted once (with its event), and ended sessions swept by the next sign-in.
#include <string>

#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

UiSession MakeSession(std::string hash, UnixMicros created_at, UnixMicros expires_at) {
  UiSession s;
  s.token_hash = std::move(hash);
  s.user_id = "user-1";
  s.credential_id = "key-1";
  s.created_at = created_at;
  s.expires_at = expires_at;
  return s;
}

int64_t Events(Store& store, std::string_view action) {
  AuditQuery q;
  q.action = std::string(action);
  q.limit = 0;
  return static_cast<int64_t>(store.ListAudit(q).value().size());
}

TEST_P(StoreConformanceTest, UiSessionIsStoredFoundAndDeletedWithItsAuditEvents) {
  const UiSession s = MakeSession(std::string(64, 'a'), kT0, kT0 + 3'600'000'000);
  AuditEvent created = MakeEvent("session.create");
  ASSERT_THAT(store().InsertUiSession(s, &created), IsOk());
  EXPECT_EQ(Events(store(), "session.create"), 1);
  EXPECT_THAT(store().InsertUiSession(s, nullptr), StatusIs(StatusCode::kAlreadyExists));
  auto got = store().GetUiSession(s.token_hash);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->user_id, "user-1");
  EXPECT_EQ(got->credential_id, "key-1");
  EXPECT_EQ(got->created_at, kT0);
  EXPECT_EQ(got->expires_at, kT0 + 3'600'000'000);
  EXPECT_THAT(store().GetUiSession(std::string(64, 'b')), StatusIs(StatusCode::kNotFound));

  AuditEvent deleted = MakeEvent("session.delete");
  ASSERT_THAT(store().DeleteUiSession(s.token_hash, &deleted), IsOk());
  EXPECT_EQ(Events(store(), "session.delete"), 1);
  EXPECT_THAT(store().GetUiSession(s.token_hash), StatusIs(StatusCode::kNotFound));
  // A second sign-out finds nothing and appends nothing.
  AuditEvent again = MakeEvent("session.delete");
  EXPECT_THAT(store().DeleteUiSession(s.token_hash, &again), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(Events(store(), "session.delete"), 1);
}

TEST_P(StoreConformanceTest, EndedUiSessionsAreSweptByTheNextSignIn) {
  const UiSession ended = MakeSession(std::string(64, 'c'), kT0, kT0 + 10);
  const UiSession live = MakeSession(std::string(64, 'd'), kT0, kT0 + 3'600'000'000);
  ASSERT_THAT(store().InsertUiSession(ended, nullptr), IsOk());
  ASSERT_THAT(store().InsertUiSession(live, nullptr), IsOk());
  // Kept until a later sign-in sweeps it (a reader still checks expires_at).
  ASSERT_THAT(store().GetUiSession(ended.token_hash), IsOk());
  ASSERT_THAT(store().InsertUiSession(
                  MakeSession(std::string(64, 'e'), kT0 + 20, kT0 + 3'600'000'000), nullptr),
              IsOk());
  EXPECT_THAT(store().GetUiSession(ended.token_hash), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetUiSession(live.token_hash), IsOk());
}

}  // namespace
}  // namespace coffer::store_testing
