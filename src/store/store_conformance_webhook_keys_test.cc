// Conformance tests for webhook signing secrets under data key rotation (coffer keys): they are
// listed when not under a key, swapped by compare-and-swap, counted per key with the versions,
// and a data key that only a webhook secret names cannot be deleted.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

// A blob as crypto/aead.h lays it out (format 1, big-endian key id), with `payload` after it.
std::vector<uint8_t> KeyBlob(uint32_t key_id, std::string_view payload) {
  std::vector<uint8_t> b(5 + payload.size());
  b[0] = 0x01;
  for (int i = 0; i < 4; ++i) {
    b[1 + i] = static_cast<uint8_t>(key_id >> (24 - 8 * i));
  }
  std::copy(payload.begin(), payload.end(), b.begin() + 5);
  return b;
}

WebhookEndpoint SealedWebhook(std::string_view vault_id, std::vector<uint8_t> sealed) {
  WebhookEndpoint w;
  w.id = NewUuid();
  w.vault_id = std::string(vault_id);
  w.url = "https://hooks.example.com/coffer";
  w.events = {"secret.version_created"};
  w.sealed_secret = std::move(sealed);
  w.created_by = "owner-1";
  w.created_at = kT0;
  return w;
}

TEST_P(StoreConformanceTest, ListsWebhookSecretsNotUnderAKeyInIdOrderAndPages) {
  const Vault a = AddVault("a");
  const Vault b = AddVault("b");
  const WebhookEndpoint w1 = SealedWebhook(a.id, KeyBlob(1, "w1"));
  const WebhookEndpoint w2 = SealedWebhook(b.id, KeyBlob(2, "w2"));
  const WebhookEndpoint w3 = SealedWebhook(b.id, {0x01, 0x00});  // too short to name a key
  for (const WebhookEndpoint& w : {w1, w2, w3}) {
    ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());
  }
  std::vector<std::string> expected = {w1.id, w3.id};
  std::sort(expected.begin(), expected.end());

  auto all = store().ListWebhookSecretsNotUnderKey(2, "", 100);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].webhook_id, expected[0]);
  EXPECT_EQ((*all)[1].webhook_id, expected[1]);
  for (const StoredWebhookSecret& s : *all) {
    if (s.webhook_id == w1.id) {
      EXPECT_EQ(s.vault_id, a.id);
      EXPECT_EQ(s.sealed_secret, KeyBlob(1, "w1"));
    }
  }
  // One at a time from a cursor gives the same rows, then nothing.
  std::vector<std::string> paged;
  std::string after;
  for (int i = 0; i < 5; ++i) {
    auto page = store().ListWebhookSecretsNotUnderKey(2, after, 1);
    ASSERT_THAT(page, IsOk());
    if (page->empty()) break;
    ASSERT_EQ(page->size(), 1u);
    paged.push_back(page->front().webhook_id);
    after = page->front().webhook_id;
  }
  EXPECT_EQ(paged, expected);
}

TEST_P(StoreConformanceTest, SwapsWebhookSecretOnlyWhereItIsStillTheExpectedOne) {
  const Vault v = AddVault("v");
  const WebhookEndpoint w = SealedWebhook(v.id, KeyBlob(1, "old"));
  ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());
  auto before = store().GetWebhook(v.id, w.id);
  ASSERT_THAT(before, IsOk());

  auto stale = store().SwapWebhookSecrets({{w.id, KeyBlob(1, "other"), KeyBlob(2, "new")}});
  ASSERT_THAT(stale, IsOk());
  EXPECT_EQ(*stale, 0);
  auto swapped = store().SwapWebhookSecrets(
      {{w.id, KeyBlob(1, "old"), KeyBlob(2, "new")}, {NewUuid(), KeyBlob(1, "old"), {9}}});
  ASSERT_THAT(swapped, IsOk());
  EXPECT_EQ(*swapped, 1);

  auto got = store().GetWebhook(v.id, w.id);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->sealed_secret, KeyBlob(2, "new"));
  // Nothing else in the row changed.
  EXPECT_EQ(got->url, before->url);
  EXPECT_EQ(got->events, before->events);
  EXPECT_EQ(got->created_at, before->created_at);
  EXPECT_EQ(got->start_after_seq, before->start_after_seq);
  auto again = store().SwapWebhookSecrets({{w.id, KeyBlob(1, "old"), KeyBlob(2, "newer")}});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, 0);
}

TEST_P(StoreConformanceTest, CountsWebhookSecretsWithVersionsPerKeyId) {
  const Vault v = AddVault("v");
  auto r = store().PutSecretVersion(
      NewVersion(v.id, "a"),
      [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> { return KeyBlob(1, "a"); },
      nullptr);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(store().InsertWebhook(SealedWebhook(v.id, KeyBlob(1, "w")), nullptr), IsOk());
  ASSERT_THAT(store().InsertWebhook(SealedWebhook(v.id, KeyBlob(5, "w")), nullptr), IsOk());
  auto counts = store().CountCiphertextsByKey();
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ(*counts, (std::map<int64_t, int64_t>{{1, 2}, {5, 1}}));
}

TEST_P(StoreConformanceTest, DataKeyNamedOnlyByAWebhookSecretIsNotDeleted) {
  ASSERT_THAT(store().InsertKey({1, "data", {1}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "data", {2}, kT0 + 1, true}), IsOk());
  const Vault v = AddVault("v");
  const WebhookEndpoint w = SealedWebhook(v.id, KeyBlob(1, "w"));
  ASSERT_THAT(store().InsertWebhook(w, nullptr), IsOk());

  const Status refused = store().DeleteDataKey(1);
  EXPECT_THAT(refused, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_NE(refused.message().find("1 webhook signing secrets"), std::string::npos)
      << refused.message();
  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  EXPECT_EQ(keys->size(), 2u);

  ASSERT_THAT(store().SwapWebhookSecrets({{w.id, KeyBlob(1, "w"), KeyBlob(2, "w")}}), IsOk());
  EXPECT_THAT(store().DeleteDataKey(1), IsOk());
  // Deleting the endpoint frees the key it named.
  ASSERT_THAT(store().DeleteWebhook(v.id, w.id, nullptr), IsOk());
  ASSERT_THAT(store().InsertKey({3, "data", {3}, kT0 + 2, true}), IsOk());
  EXPECT_THAT(store().DeleteDataKey(2), IsOk());
}

}  // namespace
}  // namespace coffer::store_testing
