// Conformance tests for key rotation in the store (coffer keys): listing the versions not
// under a key, compare-and-swap of ciphertexts, counting versions per key, deleting a data key,
// deleting a replaced key of another purpose (token signing keys), and sealing a key again under
// another root key.
// The store reads only bytes 1..4 of a blob (the key id, see crypto/aead.h).
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

// A blob as crypto/aead.h lays it out (format 1, big-endian key id), with `payload` after it.
std::vector<uint8_t> Blob(uint32_t key_id, std::string_view payload) {
  // Sized up front and written in place (vector::insert trips a GCC 12 false warning).
  std::vector<uint8_t> b(5 + payload.size());
  b[0] = 0x01;
  for (int i = 0; i < 4; ++i) {
    b[1 + i] = static_cast<uint8_t>(key_id >> (24 - 8 * i));
  }
  std::copy(payload.begin(), payload.end(), b.begin() + 5);
  return b;
}

TEST_P(StoreConformanceTest, ListsVersionsNotUnderAKeyInOrderWithTheirPlaceAndPages) {
  const Vault a = AddVault("a");
  const Vault b = AddVault("b");
  auto put = [&](const Vault& v, std::string_view path, std::vector<uint8_t> blob) {
    auto r = store().PutSecretVersion(
        NewVersion(v.id, path),
        [blob](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> { return blob; }, nullptr);
    EXPECT_THAT(r, IsOk());
    return r.has_value() ? *r : SecretVersion{};
  };
  const SecretVersion x1 = put(a, "x", Blob(1, "x1"));
  const SecretVersion x2 = put(a, "x", Blob(2, "x2"));
  const SecretVersion y1 = put(b, "y", Blob(1, "y1"));
  const SecretVersion z1 = put(b, "z", {0x01, 0x00});  // too short to name a key
  (void)x2;

  auto first = store().ListCiphertextsNotUnderKey(2, "", 0, 1000);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 3u);
  std::vector<std::pair<std::string, int64_t>> expected = {
      {x1.secret_id, 1}, {y1.secret_id, 1}, {z1.secret_id, 1}};
  std::sort(expected.begin(), expected.end());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*first)[i].secret_id, expected[i].first);
    EXPECT_EQ((*first)[i].version, expected[i].second);
  }
  for (const StoredCiphertext& c : *first) {
    if (c.secret_id == y1.secret_id) {
      EXPECT_EQ(c.vault_id, b.id);
      EXPECT_EQ(c.path, "y");
      EXPECT_EQ(c.ciphertext, Blob(1, "y1"));
    }
  }
  // One at a time, from a cursor, gives the same rows.
  std::vector<std::string> paged;
  std::string after_id;
  int64_t after_version = 0;
  for (int i = 0; i < 5; ++i) {
    auto page = store().ListCiphertextsNotUnderKey(2, after_id, after_version, 1);
    ASSERT_THAT(page, IsOk());
    if (page->empty()) break;
    ASSERT_EQ(page->size(), 1u);
    paged.push_back(page->front().secret_id);
    after_id = page->front().secret_id;
    after_version = page->front().version;
  }
  EXPECT_EQ(paged.size(), 3u);
  // Under key 1 only x's version 2 (and the short blob) are elsewhere.
  auto not_one = store().ListCiphertextsNotUnderKey(1, "", 0, 10);
  ASSERT_THAT(not_one, IsOk());
  EXPECT_EQ(not_one->size(), 2u);
}

TEST_P(StoreConformanceTest, CountsVersionsPerKeyId) {
  const Vault v = AddVault("v");
  for (auto [path, blob] : std::vector<std::pair<std::string, std::vector<uint8_t>>>{
           {"a", Blob(1, "a")}, {"b", Blob(1, "b")}, {"c", Blob(7, "c")}, {"d", {0x01}}}) {
    auto r = store().PutSecretVersion(
        NewVersion(v.id, path),
        [blob](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> { return blob; }, nullptr);
    ASSERT_THAT(r, IsOk());
  }
  auto counts = store().CountCiphertextsByKey();
  ASSERT_THAT(counts, IsOk());
  EXPECT_EQ(*counts, (std::map<int64_t, int64_t>{{kUnreadableKeyId, 1}, {1, 2}, {7, 1}}));
}

TEST_P(StoreConformanceTest, SwapsCiphertextOnlyWhereItIsStillTheExpectedOne) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "s");
  n.max_access_count = 5;
  auto put = store().PutSecretVersion(
      n, [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> { return Blob(1, "old"); },
      nullptr);
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), IsOk());

  // A stale expectation swaps nothing; a right one swaps; an unknown row is skipped.
  auto stale = store().SwapCiphertexts({{put->secret_id, 1, Blob(1, "other"), Blob(2, "new")}});
  ASSERT_THAT(stale, IsOk());
  EXPECT_EQ(*stale, 0);
  auto swapped = store().SwapCiphertexts({{put->secret_id, 1, Blob(1, "old"), Blob(2, "new")},
                                          {"no-such-secret", 1, Blob(1, "old"), Blob(2, "x")}});
  ASSERT_THAT(swapped, IsOk());
  EXPECT_EQ(*swapped, 1);

  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(1));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->ciphertext, Blob(2, "new"));
  // Nothing else in the row changed.
  EXPECT_EQ(got->access_count, 1);
  EXPECT_EQ(got->max_access_count, 5);
  EXPECT_EQ(got->created_at, put->created_at);
  // Swapping again with the old blob as expectation does nothing (idempotent rerun).
  auto again = store().SwapCiphertexts({{put->secret_id, 1, Blob(1, "old"), Blob(2, "newer")}});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, 0);
}

TEST_P(StoreConformanceTest, DeletesADataKeyOnlyWhenInactiveAndUnused) {
  ASSERT_THAT(store().InsertKey({1, "data", {1}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "jwt", {2}, kT0, true}), IsOk());
  const Vault v = AddVault("v");
  auto put = store().PutSecretVersion(
      NewVersion(v.id, "s"),
      [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> { return Blob(1, "x"); }, nullptr);
  ASSERT_THAT(put, IsOk());

  EXPECT_THAT(store().DeleteDataKey(1), StatusIs(StatusCode::kFailedPrecondition));  // active
  EXPECT_THAT(store().DeleteDataKey(2), StatusIs(StatusCode::kNotFound));  // not a data key
  EXPECT_THAT(store().DeleteDataKey(9), StatusIs(StatusCode::kNotFound));
  ASSERT_THAT(store().InsertKey({3, "data", {3}, kT0 + 1, true}), IsOk());
  EXPECT_THAT(store().DeleteDataKey(1), StatusIs(StatusCode::kFailedPrecondition));  // in use

  ASSERT_THAT(store().SwapCiphertexts({{put->secret_id, 1, Blob(1, "x"), Blob(3, "y")}}), IsOk());
  EXPECT_THAT(store().DeleteDataKey(1), IsOk());
  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, 2u);
  EXPECT_EQ((*keys)[1].id, 3u);
  EXPECT_THAT(store().DeleteDataKey(1), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ReplacesAKeysSealedFormOnlyWhereItIsStillTheExpectedOne) {
  ASSERT_THAT(store().InsertKey({1, "data", {1, 1}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "jwt", {2, 2}, kT0, true}), IsOk());
  EXPECT_THAT(store().ReplaceKeyWrapping(1, {1, 1}, {0x50, 7, 7}), IsOk());
  // A second attempt from the old form (another migration got there first) changes nothing.
  EXPECT_THAT(store().ReplaceKeyWrapping(1, {1, 1}, {0x50, 8, 8}), StatusIs(StatusCode::kAborted));
  EXPECT_THAT(store().ReplaceKeyWrapping(9, {1}, {2}), StatusIs(StatusCode::kNotFound));
  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].wrapped, (std::vector<uint8_t>{0x50, 7, 7}));
  EXPECT_EQ((*keys)[0].purpose, "data");
  EXPECT_TRUE((*keys)[0].active);
  EXPECT_EQ((*keys)[1].wrapped, (std::vector<uint8_t>{2, 2}));
}

TEST_P(StoreConformanceTest, DeletesAnInactiveKeyOfAnotherPurpose) {
  ASSERT_THAT(store().InsertKey({1, "data", {1}, kT0, true}), IsOk());
  ASSERT_THAT(store().InsertKey({2, "jwt-ed25519", {2}, kT0, true}), IsOk());
  EXPECT_THAT(store().DeleteInactiveKey(2, "jwt-ed25519"),
              StatusIs(StatusCode::kFailedPrecondition));  // active
  ASSERT_THAT(store().InsertKey({3, "jwt-ed25519", {3}, kT0 + 1, true}), IsOk());
  EXPECT_THAT(store().DeleteInactiveKey(2, "hmac-pepper"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeleteInactiveKey(9, "jwt-ed25519"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeleteInactiveKey(1, "data"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(store().DeleteInactiveKey(2, "jwt-ed25519"), IsOk());
  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, 1u);
  EXPECT_EQ((*keys)[1].id, 3u);
  EXPECT_TRUE((*keys)[1].active);
}

}  // namespace
}  // namespace coffer::store_testing
