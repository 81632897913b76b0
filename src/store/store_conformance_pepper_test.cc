// Conformance tests for pepper rotation: stored HMACs of credentials and share links name their
// pepper chain (the active pepper's id when written without one), are listed in id order and
// counted per chain, and are replaced only while still as read (published for a credential).
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

using Ids = std::vector<uint32_t>;

TEST_P(StoreConformanceTest, CredentialHashNamesItsPepperChain) {
  ASSERT_THAT(store().InsertKey({2, "hmac-pepper", {2}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertCredential(AgentCredential(NewUuid(), "a-plain"), nullptr), IsOk());
  Credential named = AgentCredential(NewUuid(), "b-named");
  named.pepper_ids = {7};
  ASSERT_THAT(store().InsertCredential(named, nullptr), IsOk());
  // Written without a chain: the active pepper's.
  EXPECT_EQ(store().GetCredential("a-plain")->pepper_ids, Ids{2});
  EXPECT_EQ(store().GetCredential("b-named")->pepper_ids, Ids{7});

  const std::vector<uint8_t> before = store().GetCredential("a-plain")->secret_hmac;
  const std::vector<uint8_t> after(32, 0x5A);
  // Only while the stored HMAC is still the one read.
  EXPECT_THAT(
      store().ReplacePepperHash(PepperHashKind::kCredential, "a-plain", after, after, Ids{2, 9}),
      StatusIs(StatusCode::kAborted));
  EXPECT_THAT(
      store().ReplacePepperHash(PepperHashKind::kCredential, "nobody", before, after, Ids{2, 9}),
      StatusIs(StatusCode::kNotFound));
  std::vector<StoreChange> seen;
  {
    auto subscription = store().Changes().Watch([&](const StoreChange& c) { seen.push_back(c); });
    ASSERT_THAT(
        store().ReplacePepperHash(PepperHashKind::kCredential, "a-plain", before, after, Ids{2, 9}),
        IsOk());
  }
  EXPECT_EQ(seen, std::vector<StoreChange>{StoreChange::Credential("a-plain")});
  auto stored = store().GetCredential("a-plain");
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->secret_hmac, after);
  EXPECT_EQ(stored->pepper_ids, (Ids{2, 9}));
  // A second writer that read the old HMAC loses.
  EXPECT_THAT(store().ReplacePepperHash(PepperHashKind::kCredential, "a-plain", before,
                                        std::vector<uint8_t>(32, 1), Ids{9}),
              StatusIs(StatusCode::kAborted));

  auto listed = store().ListPepperHashes(PepperHashKind::kCredential, "", 1);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "a-plain");
  EXPECT_EQ((*listed)[0].hmac, after);
  EXPECT_EQ((*listed)[0].pepper_ids, (Ids{2, 9}));
  listed = store().ListPepperHashes(PepperHashKind::kCredential, "a-plain", 10);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "b-named");
  EXPECT_THAT(store().ListPepperHashes(PepperHashKind::kCredential, "b-named", 10),
              IsOkAndHolds(::testing::IsEmpty()));
}

TEST_P(StoreConformanceTest, ShareHashNamesItsPepperChainAndIsCounted) {
  ASSERT_THAT(store().InsertKey({4, "hmac-pepper", {4}, kT0, true}), IsOk());
  const Vault v = AddVault("v");
  auto put = Put(v.id, "db/pw");
  ASSERT_THAT(put, IsOk());
  Share share;
  share.id = NewUuid();
  share.token_hmac = std::vector<uint8_t>(32, 0xAB);
  share.secret_id = put->secret_id;
  share.version = 1;
  share.expires_at = kT0 + 3'600'000'000;
  share.created_by = "user-1";
  share.created_at = kT0;
  ASSERT_THAT(store().InsertShare(share, nullptr), IsOk());
  EXPECT_EQ(store().GetShare(share.id)->pepper_ids, Ids{4});
  ASSERT_THAT(store().InsertCredential(AgentCredential(NewUuid(), "c1"), nullptr), IsOk());
  Credential chained = AgentCredential(NewUuid(), "c2");
  chained.pepper_ids = {4, 8};
  ASSERT_THAT(store().InsertCredential(chained, nullptr), IsOk());
  // A revoked credential can no longer be presented: it needs no pepper.
  Credential revoked = AgentCredential(NewUuid(), "c3");
  revoked.revoked_at = kT0 - 1;
  ASSERT_THAT(store().InsertCredential(revoked, nullptr), IsOk());

  const std::vector<uint8_t> moved(32, 0xCD);
  ASSERT_THAT(
      store().ReplacePepperHash(PepperHashKind::kShare, share.id, share.token_hmac, moved, Ids{8}),
      IsOk());
  auto found = store().GetShareByToken(moved);
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->id, share.id);
  EXPECT_EQ(found->pepper_ids, Ids{8});
  EXPECT_THAT(store().GetShareByToken(share.token_hmac), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(
      store().ReplacePepperHash(PepperHashKind::kShare, share.id, share.token_hmac, moved, Ids{8}),
      StatusIs(StatusCode::kAborted));
  auto listed = store().ListPepperHashes(PepperHashKind::kShare, "", 10);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].hmac, moved);

  auto counts = store().CountPepperHashes(kT0);
  ASSERT_THAT(counts, IsOk());
  ASSERT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0].kind, PepperHashKind::kCredential);
  EXPECT_EQ((*counts)[0].pepper_ids, Ids{4});
  EXPECT_EQ((*counts)[0].count, 1);
  EXPECT_EQ((*counts)[1].kind, PepperHashKind::kCredential);
  EXPECT_EQ((*counts)[1].pepper_ids, (Ids{4, 8}));
  EXPECT_EQ((*counts)[1].count, 1);
  EXPECT_EQ((*counts)[2].kind, PepperHashKind::kShare);
  EXPECT_EQ((*counts)[2].pepper_ids, Ids{8});
  EXPECT_EQ((*counts)[2].count, 1);
}

}  // namespace
}  // namespace coffer::store_testing
