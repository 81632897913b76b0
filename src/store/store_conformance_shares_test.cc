// Conformance tests for share links: inserted beside their version and found by token HMAC,
// listed by creator, revoked, counted within both the link's and the version's limits (also
// under concurrency), and deleted with their secret.
#include <algorithm>
#include <atomic>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

// A share of version `version` of `secret_id`, with a token HMAC of 32 bytes of `fill`.
Share MakeShare(std::string_view secret_id, int64_t version, uint8_t fill,
                int64_t max_access_count = 0, std::string created_by = "user-1",
                UnixMicros created_at = kT0) {
  Share s;
  s.id = NewUuid();
  s.token_hmac = std::vector<uint8_t>(32, fill);
  s.secret_id = std::string(secret_id);
  s.version = version;
  s.expires_at = kT0 + 3'600'000'000;
  s.max_access_count = max_access_count;
  s.created_by = std::move(created_by);
  s.created_at = created_at;
  return s;
}

TEST_P(StoreConformanceTest, ShareIsFoundByTokenAndIdWithItsSecretsPlace) {
  const Vault v = AddVault("v");
  auto put = Put(v.id, "db/pw");
  ASSERT_THAT(put, IsOk());
  const Share share = MakeShare(put->secret_id, 1, 0xAB, 3);
  ASSERT_THAT(store().InsertShare(share, nullptr), IsOk());
  auto by_token = store().GetShareByToken(std::vector<uint8_t>(32, 0xAB));
  ASSERT_THAT(by_token, IsOk());
  EXPECT_EQ(by_token->id, share.id);
  EXPECT_EQ(by_token->vault_id, v.id);
  EXPECT_EQ(by_token->path, "db/pw");
  EXPECT_EQ(by_token->version, 1);
  EXPECT_EQ(by_token->max_access_count, 3);
  EXPECT_EQ(by_token->access_count, 0);
  EXPECT_EQ(by_token->token_hmac, share.token_hmac);
  EXPECT_FALSE(by_token->is_revoked());
  auto by_id = store().GetShare(share.id);
  ASSERT_THAT(by_id, IsOk());
  EXPECT_EQ(by_id->token_hmac, share.token_hmac);
  EXPECT_THAT(store().GetShareByToken(std::vector<uint8_t>(32, 0xAC)),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetShare(NewUuid()), StatusIs(StatusCode::kNotFound));
  // The same token twice, and a version that does not exist, are refused.
  EXPECT_THAT(store().InsertShare(MakeShare(put->secret_id, 1, 0xAB), nullptr),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(store().InsertShare(MakeShare(put->secret_id, 2, 0x01), nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().InsertShare(MakeShare(NewUuid(), 1, 0x02), nullptr),
              StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, SecretIsFoundById) {
  const Vault v = AddVault("v");
  auto first = Put(v.id, "a/b", "one");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(Put(v.id, "a/b", "two"), IsOk());
  auto latest = store().GetSecretVersionById(first->secret_id, VersionSelector::LatestEnabled());
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->path, "a/b");
  EXPECT_EQ(latest->ciphertext, FakeCiphertext(first->secret_id, 2, "two"));
  auto exact = store().GetSecretVersionById(first->secret_id, VersionSelector::Exact(1));
  ASSERT_THAT(exact, IsOk());
  EXPECT_EQ(exact->ciphertext, FakeCiphertext(first->secret_id, 1, "one"));
  EXPECT_THAT(store().GetSecretVersionById(first->secret_id, VersionSelector::Exact(3)),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetSecretVersionById(NewUuid(), VersionSelector::LatestEnabled()),
              StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(store().DisableSecretVersion(v.id, "a/b", 1, kT0, nullptr), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "a/b", 2, kT0, nullptr), IsOk());
  EXPECT_THAT(store().GetSecretVersionById(first->secret_id, VersionSelector::LatestEnabled()),
              StatusIs(StatusCode::kGone));
}

TEST_P(StoreConformanceTest, ShareAccessIsCountedWithinEveryLimit) {
  const Vault v = AddVault("v");
  auto put = Put(v.id, "s");
  ASSERT_THAT(put, IsOk());
  const Share share = MakeShare(put->secret_id, 1, 0x10, 2);
  ASSERT_THAT(store().InsertShare(share, nullptr), IsOk());
  const AuditEvent event = MakeEvent("share.access", v.id);
  EXPECT_THAT(store().ConsumeShareAccess(share.id, kT0, &event), IsOkAndHolds(1));
  EXPECT_THAT(store().ConsumeShareAccess(share.id, kT0, nullptr), IsOkAndHolds(2));
  EXPECT_THAT(store().ConsumeShareAccess(share.id, kT0, nullptr), StatusIs(StatusCode::kGone));
  const std::vector<AuditEvent> audit = AllAudit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].version, 1);
  // Expired at `now`; revoked; unknown.
  const Share later = MakeShare(put->secret_id, 1, 0x11);
  ASSERT_THAT(store().InsertShare(later, nullptr), IsOk());
  EXPECT_THAT(store().ConsumeShareAccess(later.id, later.expires_at, nullptr),
              StatusIs(StatusCode::kGone));
  EXPECT_THAT(store().ConsumeShareAccess(later.id, kT0, nullptr), IsOkAndHolds(1));
  ASSERT_THAT(store().RevokeShare(later.id, kT0 + 5, nullptr), IsOk());
  ASSERT_THAT(store().RevokeShare(later.id, kT0 + 9, nullptr), IsOk());
  EXPECT_EQ(store().GetShare(later.id)->revoked_at, kT0 + 5) << "the first revocation wins";
  EXPECT_THAT(store().ConsumeShareAccess(later.id, kT0, nullptr), StatusIs(StatusCode::kGone));
  EXPECT_THAT(store().RevokeShare(NewUuid(), kT0, nullptr), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ConsumeShareAccess(NewUuid(), kT0, nullptr), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ShareAccessSpendsTheVersionsReadsAndRespectsItsState) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "counted");
  n.max_access_count = 1;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  const Share share = MakeShare(put->secret_id, 1, 0x20);
  ASSERT_THAT(store().InsertShare(share, nullptr), IsOk());
  EXPECT_THAT(store().ConsumeShareAccess(share.id, kT0, nullptr), IsOkAndHolds(1));
  // The version's one read is spent: refused, and the link's count is rolled back.
  EXPECT_THAT(store().ConsumeShareAccess(share.id, kT0, nullptr), StatusIs(StatusCode::kGone));
  EXPECT_EQ(store().GetShare(share.id)->access_count, 1);
  EXPECT_EQ(store().GetSecretVersion(v.id, "counted", {})->access_count, 1);

  auto plain = Put(v.id, "plain");
  ASSERT_THAT(plain, IsOk());
  const Share disabled = MakeShare(plain->secret_id, 1, 0x21);
  ASSERT_THAT(store().InsertShare(disabled, nullptr), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "plain", 1, kT0, nullptr), IsOk());
  EXPECT_THAT(store().ConsumeShareAccess(disabled.id, kT0, nullptr), StatusIs(StatusCode::kGone));
  EXPECT_EQ(store().GetShare(disabled.id)->access_count, 0);
}

TEST_P(StoreConformanceTest, SharesAreListedByCreatorAndDeletedWithTheirSecret) {
  const Vault v = AddVault("v");
  auto a = Put(v.id, "a");
  auto b = Put(v.id, "b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  const Share first = MakeShare(a->secret_id, 1, 0x30, 0, "alice", kT0);
  const Share second = MakeShare(b->secret_id, 1, 0x31, 0, "alice", kT0 + 1);
  const Share bobs = MakeShare(a->secret_id, 1, 0x32, 0, "bob", kT0);
  for (const Share* s : {&second, &first, &bobs}) {
    ASSERT_THAT(store().InsertShare(*s, nullptr), IsOk());
  }
  auto listed = store().ListSharesByCreator("alice");
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, first.id);
  EXPECT_EQ((*listed)[1].id, second.id);
  EXPECT_EQ((*listed)[1].path, "b");
  ASSERT_THAT(store().DeleteSecret(v.id, "a", nullptr), IsOk());
  EXPECT_THAT(store().GetShare(first.id), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().GetShare(bobs.id), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(store().ListSharesByCreator("alice")->size(), 1u);
  ASSERT_THAT(store().DeleteVault(v.id, nullptr), IsOk());
  EXPECT_THAT(store().GetShare(second.id), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ConcurrentShareAccessesGetExactlyTheLimit) {
  constexpr int kThreads = 16;
  constexpr int64_t kLimit = 25;
  const Vault v = AddVault("v");
  auto put = Put(v.id, "hot");
  ASSERT_THAT(put, IsOk());
  const Share share = MakeShare(put->secret_id, 1, 0x40, kLimit);
  ASSERT_THAT(store().InsertShare(share, nullptr), IsOk());
  std::vector<std::vector<int64_t>> counts(kThreads);
  std::atomic<int> gone = 0;
  std::atomic<int> other = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto count = store().ConsumeShareAccess(share.id, kT0, nullptr);
        if (count.has_value()) {
          counts[t].push_back(*count);
        } else if (count.error().code() == StatusCode::kGone) {
          ++gone;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::vector<int64_t> all;
  for (const auto& c : counts) {
    all.insert(all.end(), c.begin(), c.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(kLimit);
  std::iota(want.begin(), want.end(), 1);
  EXPECT_EQ(all, want) << "exactly 25 successes, each count handed out once";
  EXPECT_EQ(gone.load(), kThreads * 5 - kLimit);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(store().GetShare(share.id)->access_count, kLimit);
}

}  // namespace
}  // namespace coffer::store_testing
