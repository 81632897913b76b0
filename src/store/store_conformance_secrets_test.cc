// Conformance tests for secrets in the store: put and get, versions, disable and delete, listing
// and its pages, counted reads, importing versions, and everything surviving a reopen.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status_matchers.h"
#include "store/store_conformance_test.h"

namespace coffer::store_testing {
namespace {

using ::testing::_;

using Kind = VersionSelector::Kind;

std::string AsString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// --- secrets: put and get ----------------------------------------------------------------------

TEST_P(StoreConformanceTest, PutPassesAFullHeaderToSealAndStoresItsCiphertext) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "api-keys/openai", kT0 + 1);
  n.type = SecretType::kApiKey;
  n.metadata_json = R"({"env":"prod"})";
  n.rotation_policy_json = R"({"days":30})";
  n.expires_at = kT0 + 1000;
  n.max_access_count = 3;
  n.created_by = "agent-7";

  SecretVersion seen;
  auto put = store().PutSecretVersion(
      n,
      [&](const SecretVersion& h) -> StatusOr<std::vector<uint8_t>> {
        seen = h;
        return FakeCiphertext(h.secret_id, h.version, "sk-123");
      },
      nullptr);
  ASSERT_THAT(put, IsOk());

  EXPECT_TRUE(IsUuid(seen.secret_id));
  EXPECT_EQ(seen.vault_id, v.id);
  EXPECT_EQ(seen.path, "api-keys/openai");
  EXPECT_EQ(seen.version, 1);
  EXPECT_EQ(seen.type, SecretType::kApiKey);
  EXPECT_EQ(seen.metadata_json, R"({"env":"prod"})");
  EXPECT_EQ(seen.rotation_policy_json, R"({"days":30})");
  EXPECT_EQ(seen.expires_at, kT0 + 1000);
  EXPECT_EQ(seen.max_access_count, 3);
  EXPECT_EQ(seen.access_count, 0);
  EXPECT_FALSE(seen.disabled_at.has_value());
  EXPECT_EQ(seen.created_at, kT0 + 1);
  EXPECT_EQ(seen.created_by, "agent-7");
  EXPECT_TRUE(seen.ciphertext.empty());

  EXPECT_EQ(put->secret_id, seen.secret_id);
  EXPECT_EQ(put->version, 1);
  EXPECT_TRUE(put->ciphertext.empty()) << "Put returns no ciphertext";

  auto got = store().GetSecretVersion(v.id, "api-keys/openai", VersionSelector::LatestEnabled());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->secret_id, seen.secret_id);
  EXPECT_EQ(got->vault_id, v.id);
  EXPECT_EQ(got->path, "api-keys/openai");
  EXPECT_EQ(got->type, SecretType::kApiKey);
  EXPECT_EQ(got->metadata_json, R"({"env":"prod"})");
  EXPECT_EQ(got->rotation_policy_json, R"({"days":30})");
  EXPECT_EQ(got->expires_at, kT0 + 1000);
  EXPECT_EQ(got->max_access_count, 3);
  EXPECT_EQ(got->created_at, kT0 + 1);
  EXPECT_EQ(got->created_by, "agent-7");
  EXPECT_EQ(got->ciphertext, FakeCiphertext(seen.secret_id, 1, "sk-123"));
}

TEST_P(StoreConformanceTest, VersionsCountUpUnderOneSecretId) {
  const Vault v = AddVault("v");
  auto first = Put(v.id, "db", "one");
  auto second = Put(v.id, "db", "two");
  auto third = Put(v.id, "db", "three");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(third->version, 3);
  EXPECT_EQ(second->secret_id, first->secret_id);
  EXPECT_EQ(third->secret_id, first->secret_id);

  auto latest = store().GetSecretVersion(v.id, "db", VersionSelector::LatestEnabled());
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->version, 3);
  EXPECT_EQ(AsString(latest->ciphertext), first->secret_id + "|3|three");
  auto exact = store().GetSecretVersion(v.id, "db", VersionSelector::Exact(2));
  ASSERT_THAT(exact, IsOk());
  EXPECT_EQ(AsString(exact->ciphertext), first->secret_id + "|2|two");
}

TEST_P(StoreConformanceTest, SamePathInAnotherVaultIsAnotherSecret) {
  const Vault a = AddVault("a");
  const Vault b = AddVault("b");
  auto in_a = Put(a.id, "x");
  auto in_b = Put(b.id, "x");
  ASSERT_THAT(in_a, IsOk());
  ASSERT_THAT(in_b, IsOk());
  EXPECT_EQ(in_b->version, 1);
  EXPECT_NE(in_a->secret_id, in_b->secret_id);
}

TEST_P(StoreConformanceTest, PutIntoMissingVaultIsNotFound) {
  auto put = Put(NewUuid(), "x");
  EXPECT_THAT(put, StatusIs(StatusCode::kNotFound));
  if (!put.has_value()) {
    EXPECT_THAT(put, StatusIs(_, "vault not found"));
  }
}

TEST_P(StoreConformanceTest, SealErrorAbortsThePut) {
  const Vault v = AddVault("v");
  ASSERT_THAT(Put(v.id, "kept"), IsOk());
  auto failed = store().PutSecretVersion(
      NewVersion(v.id, "new"),
      [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
        return Err(InternalError("no data key"));
      },
      nullptr);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error(), InternalError("no data key")) << "seal's own error comes back";
  EXPECT_THAT(store().GetSecretVersion(v.id, "new", {}), StatusIs(StatusCode::kNotFound));

  failed = store().PutSecretVersion(
      NewVersion(v.id, "kept"),
      [](const SecretVersion&) -> StatusOr<std::vector<uint8_t>> {
        return Err(UnavailableError("kms down"));
      },
      nullptr);
  EXPECT_THAT(failed, StatusIs(StatusCode::kUnavailable));
  // Neither failure used up a version number.
  auto next_new = Put(v.id, "new");
  auto next_kept = Put(v.id, "kept");
  ASSERT_THAT(next_new, IsOk());
  ASSERT_THAT(next_kept, IsOk());
  EXPECT_EQ(next_new->version, 1);
  EXPECT_EQ(next_kept->version, 2);
}

TEST_P(StoreConformanceTest, GetSelectorsAndTheirErrors) {
  const Vault v = AddVault("v");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_THAT(Put(v.id, "s", "v" + std::to_string(i)), IsOk());
  }
  ASSERT_THAT(store().DisableSecretVersion(v.id, "s", 3, kT0 + 9, nullptr), IsOk());

  auto enabled = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  ASSERT_THAT(enabled, IsOk());
  EXPECT_EQ(enabled->version, 2) << "the disabled version 3 is skipped";

  auto any = store().GetSecretVersion(v.id, "s", VersionSelector::LatestAny());
  ASSERT_THAT(any, IsOk());
  EXPECT_EQ(any->version, 3);
  EXPECT_EQ(any->disabled_at, kT0 + 9);
  EXPECT_FALSE(any->ciphertext.empty());

  // An exact read returns a disabled version as it is; the service decides what to do with it.
  auto exact = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(3));
  ASSERT_THAT(exact, IsOk());
  EXPECT_TRUE(exact->is_disabled());

  auto missing_version = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(7));
  EXPECT_THAT(missing_version, StatusIs(StatusCode::kNotFound));
  if (!missing_version.has_value()) {
    EXPECT_THAT(missing_version, StatusIs(_, "version 7 not found"));
  }
  EXPECT_THAT(store().GetSecretVersion(v.id, "s", VersionSelector::Exact(0)),
              StatusIs(StatusCode::kNotFound));

  for (const VersionSelector& sel : {VersionSelector::LatestEnabled(), VersionSelector::LatestAny(),
                                     VersionSelector::Exact(1)}) {
    auto absent = store().GetSecretVersion(v.id, "other", sel);
    EXPECT_THAT(absent, StatusIs(StatusCode::kNotFound));
    if (!absent.has_value()) {
      EXPECT_THAT(absent, StatusIs(_, "secret not found"));
    }
  }
}

TEST_P(StoreConformanceTest, LatestEnabledIsGoneWhenEveryVersionIsDisabled) {
  const Vault v = AddVault("v");
  ASSERT_THAT(Put(v.id, "s"), IsOk());
  ASSERT_THAT(Put(v.id, "s"), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "s", 1, kT0, nullptr), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "s", 2, kT0, nullptr), IsOk());
  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  EXPECT_THAT(got, StatusIs(StatusCode::kGone));
  if (!got.has_value()) {
    EXPECT_THAT(got, StatusIs(_, "every version of this secret is disabled"));
  }
  // A new version makes the secret readable again.
  ASSERT_THAT(Put(v.id, "s"), IsOk());
  got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->version, 3);
}

// --- versions, disable, delete -----------------------------------------------------------------

TEST_P(StoreConformanceTest, ListSecretVersionsNewestFirstWithoutValues) {
  const Vault v = AddVault("v");
  for (int i = 0; i < 4; ++i) {
    ASSERT_THAT(Put(v.id, "s"), IsOk());
  }
  ASSERT_THAT(store().DisableSecretVersion(v.id, "s", 2, kT0 + 2, nullptr), IsOk());
  auto versions = store().ListSecretVersions(v.id, "s");
  ASSERT_THAT(versions, IsOk());
  ASSERT_EQ(versions->size(), 4u);
  for (size_t i = 0; i < versions->size(); ++i) {
    const SecretVersion& sv = (*versions)[i];
    EXPECT_EQ(sv.version, static_cast<int64_t>(4 - i));
    EXPECT_EQ(sv.path, "s");
    EXPECT_EQ(sv.vault_id, v.id);
    EXPECT_TRUE(sv.ciphertext.empty());
    EXPECT_EQ(sv.is_disabled(), sv.version == 2);
  }
  EXPECT_THAT(store().ListSecretVersions(v.id, "t"), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DisableIsIdempotentAndKeepsTheFirstTime) {
  const Vault v = AddVault("v");
  ASSERT_THAT(Put(v.id, "s"), IsOk());
  auto first = store().DisableSecretVersion(v.id, "s", 1, kT0 + 1, nullptr);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->disabled_at, kT0 + 1);
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->path, "s");
  EXPECT_TRUE(first->ciphertext.empty());

  auto again = store().DisableSecretVersion(v.id, "s", 1, kT0 + 99, nullptr);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->disabled_at, kT0 + 1);
  auto stored = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(1));
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->disabled_at, kT0 + 1);

  EXPECT_THAT(store().DisableSecretVersion(v.id, "s", 2, kT0, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DisableSecretVersion(v.id, "t", 1, kT0, nullptr),
              StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DeleteSecretRemovesEveryVersionAndFreesThePath) {
  const Vault v = AddVault("v");
  auto old = Put(v.id, "s");
  ASSERT_THAT(old, IsOk());
  ASSERT_THAT(Put(v.id, "s"), IsOk());
  ASSERT_THAT(Put(v.id, "s2"), IsOk());

  ASSERT_THAT(store().DeleteSecret(v.id, "s", nullptr), IsOk());
  EXPECT_THAT(store().GetSecretVersion(v.id, "s", {}), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ListSecretVersions(v.id, "s"), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ConsumeSecretAccess(old->secret_id, 2, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(ListPaths(v.id, ""), std::vector<std::string>{"s2"});
  EXPECT_THAT(store().DeleteSecret(v.id, "s", nullptr), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().DeleteSecret(NewUuid(), "s2", nullptr), StatusIs(StatusCode::kNotFound));

  auto reborn = Put(v.id, "s");
  ASSERT_THAT(reborn, IsOk());
  EXPECT_EQ(reborn->version, 1);
  EXPECT_NE(reborn->secret_id, old->secret_id);
}

// --- listing -----------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ListSecretsShowsEachLatestVersionWithoutValues) {
  const Vault v = AddVault("v");
  const Vault other = AddVault("other");
  ASSERT_THAT(Put(v.id, "b"), IsOk());
  NewSecretVersion n = NewVersion(v.id, "b");
  n.type = SecretType::kNote;
  n.metadata_json = R"({"v":2})";
  ASSERT_THAT(store().PutSecretVersion(n, FakeSeal("x"), nullptr), IsOk());
  ASSERT_THAT(Put(v.id, "a"), IsOk());
  ASSERT_THAT(Put(other.id, "a0"), IsOk());

  auto page = store().ListSecrets(v.id, "", "", 100);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->secrets.size(), 2u);
  EXPECT_TRUE(page->next_after.empty());
  EXPECT_EQ(page->secrets[0].path, "a");
  EXPECT_EQ(page->secrets[0].version, 1);
  EXPECT_EQ(page->secrets[1].path, "b");
  EXPECT_EQ(page->secrets[1].version, 2);
  EXPECT_EQ(page->secrets[1].type, SecretType::kNote);
  EXPECT_EQ(page->secrets[1].metadata_json, R"({"v":2})");
  for (const SecretSummary& s : page->secrets) {
    EXPECT_TRUE(s.ciphertext.empty());
    EXPECT_EQ(s.vault_id, v.id);
  }
}

TEST_P(StoreConformanceTest, ListSecretsPrefixIsAPlainStringPrefixInByteOrder) {
  const Vault v = AddVault("v");
  const Vault other = AddVault("other");
  const std::vector<std::string> paths = {
      "a", "a-",  "a-b", "a/b", "a/c/d", "a/c/d/e", "a0", "a_",  "ab",  "aa/z",
      "A", "A/a", "_x",  "-",   "b",     "b/a",     "z",  "z/z", "9/9", "a--",
  };
  for (const std::string& p : paths) {
    ASSERT_THAT(Put(v.id, p), IsOk());
  }
  ASSERT_THAT(Put(other.id, "a/in-other-vault"), IsOk());

  for (const std::string prefix : {"", "a", "a-", "a/", "a/c", "a/c/d", "a/c/d/", "aa", "A", "_",
                                   "-", "z", "z/z", "zz", "0", "a/b/c"}) {
    std::vector<std::string> want;
    for (const std::string& p : paths) {
      if (p.starts_with(prefix)) {
        want.push_back(p);
      }
    }
    std::sort(want.begin(), want.end());  // byte order, like the store's
    std::string next;
    EXPECT_EQ(ListPaths(v.id, prefix, "", 1000, &next), want) << "prefix '" << prefix << "'";
    EXPECT_TRUE(next.empty());
  }
}

TEST_P(StoreConformanceTest, ListSecretsPaginates) {
  const Vault v = AddVault("v");
  std::vector<std::string> want;
  for (int i = 0; i < 25; ++i) {
    char path[16];
    std::snprintf(path, sizeof(path), "p/%02d", i);
    want.push_back(path);
    ASSERT_THAT(Put(v.id, path), IsOk());
  }
  ASSERT_THAT(Put(v.id, "o/first"), IsOk());
  ASSERT_THAT(Put(v.id, "q/last"), IsOk());

  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  std::string after;
  do {
    std::string next;
    std::vector<std::string> page = ListPaths(v.id, "p/", after, 10, &next);
    page_sizes.push_back(page.size());
    seen.insert(seen.end(), page.begin(), page.end());
    if (!next.empty()) {
      EXPECT_EQ(next, page.back());
    }
    after = next;
  } while (!after.empty() && page_sizes.size() < 10);
  EXPECT_EQ(seen, want);
  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5}));

  // A page that ends exactly at the last match says nothing remains.
  std::string next = "unset";
  EXPECT_EQ(ListPaths(v.id, "p/", "p/19", 5, &next).size(), 5u);
  EXPECT_TRUE(next.empty());

  // `after` is exclusive and need not exist; one before the prefix changes nothing.
  EXPECT_EQ(ListPaths(v.id, "p/", "p/22"), (std::vector<std::string>{"p/23", "p/24"}));
  EXPECT_EQ(ListPaths(v.id, "p/", "p/225"), (std::vector<std::string>{"p/23", "p/24"}));
  EXPECT_EQ(ListPaths(v.id, "p/", "a").size(), 25u);
  EXPECT_TRUE(ListPaths(v.id, "p/", "p/24").empty());
  EXPECT_TRUE(ListPaths(v.id, "p/", "q").empty());
  EXPECT_EQ(ListPaths(v.id, "", "p/24"), std::vector<std::string>{"q/last"});

  // Limit 0 is no limit.
  next = "unset";
  EXPECT_EQ(ListPaths(v.id, "", "", 0, &next).size(), 27u);
  EXPECT_TRUE(next.empty());
}

// --- counted reads -----------------------------------------------------------------------------

TEST_P(StoreConformanceTest, ConsumeCountsUpToTheLimitThenIsGone) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "once");
  n.max_access_count = 3;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  for (int64_t want = 1; want <= 3; ++want) {
    auto count = store().ConsumeSecretAccess(put->secret_id, 1, nullptr);
    ASSERT_THAT(count, IsOk());
    EXPECT_EQ(*count, want);
  }
  EXPECT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), StatusIs(StatusCode::kGone));
  auto got = store().GetSecretVersion(v.id, "once", {});
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->access_count, 3);

  EXPECT_THAT(store().ConsumeSecretAccess(put->secret_id, 2, nullptr),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store().ConsumeSecretAccess(NewUuid(), 1, nullptr), StatusIs(StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ConsumeOnADisabledVersionIsGone) {
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "s");
  n.max_access_count = 5;
  auto put = store().PutSecretVersion(n, FakeSeal("x"), nullptr);
  ASSERT_THAT(put, IsOk());
  ASSERT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "s", 1, kT0, nullptr), IsOk());
  EXPECT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr), StatusIs(StatusCode::kGone));
  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(1));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->access_count, 1);
}

TEST_P(StoreConformanceTest, ConsumeOnAnUnlimitedVersionIsAPreconditionError) {
  const Vault v = AddVault("v");
  auto put = Put(v.id, "s");
  ASSERT_THAT(put, IsOk());
  EXPECT_THAT(store().ConsumeSecretAccess(put->secret_id, 1, nullptr),
              StatusIs(StatusCode::kFailedPrecondition));
}

// --- copying a store -----------------------------------------------------------------------

TEST_P(StoreConformanceTest, ImportSecretVersionKeepsEveryFieldAndNumberingContinues) {
  const Vault v = AddVault("v");
  SecretVersion first;
  first.secret_id = NewUuid();
  first.vault_id = v.id;
  first.path = "imported/key";
  first.version = 1;
  first.type = SecretType::kSshKey;
  first.metadata_json = R"({"from":"sqlite"})";
  first.rotation_policy_json = R"({"days":30})";
  first.expires_at = kT0 + 99;
  first.max_access_count = 5;
  first.access_count = 2;
  first.created_at = kT0 + 1;
  first.created_by = "user-9";
  first.ciphertext = FakeCiphertext(first.secret_id, 1, "one");
  SecretVersion second = first;
  second.version = 2;
  second.max_access_count = 0;
  second.access_count = 0;
  second.disabled_at = kT0 + 3;
  second.ciphertext = FakeCiphertext(first.secret_id, 2, "two");
  ASSERT_THAT(store().ImportSecretVersion(first), IsOk());
  ASSERT_THAT(store().ImportSecretVersion(second), IsOk());

  auto got = store().GetSecretVersion(v.id, "imported/key", VersionSelector::Exact(1));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->secret_id, first.secret_id);
  EXPECT_EQ(got->type, SecretType::kSshKey);
  EXPECT_EQ(got->metadata_json, first.metadata_json);
  EXPECT_EQ(got->rotation_policy_json, first.rotation_policy_json);
  EXPECT_EQ(got->expires_at, first.expires_at);
  EXPECT_EQ(got->max_access_count, 5);
  EXPECT_EQ(got->access_count, 2);
  EXPECT_FALSE(got->disabled_at.has_value());
  EXPECT_EQ(got->created_at, kT0 + 1);
  EXPECT_EQ(got->created_by, "user-9");
  EXPECT_EQ(got->ciphertext, first.ciphertext);
  auto latest = store().GetSecretVersion(v.id, "imported/key", VersionSelector::LatestEnabled());
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->version, 1) << "version 2 came in disabled";
  auto disabled = store().GetSecretVersion(v.id, "imported/key", VersionSelector::Exact(2));
  ASSERT_THAT(disabled, IsOk());
  EXPECT_EQ(disabled->disabled_at, kT0 + 3);
  EXPECT_EQ(disabled->ciphertext, second.ciphertext);

  auto third = Put(v.id, "imported/key");
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->version, 3);
  EXPECT_EQ(third->secret_id, first.secret_id);

  SecretVersion gap = first;
  gap.version = 5;
  EXPECT_THAT(store().ImportSecretVersion(gap), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().ImportSecretVersion(first), StatusIs(StatusCode::kAlreadyExists));
  SecretVersion elsewhere = first;
  elsewhere.secret_id = NewUuid();
  elsewhere.vault_id = NewUuid();
  EXPECT_THAT(store().ImportSecretVersion(elsewhere), StatusIs(StatusCode::kNotFound));
}

// --- durability --------------------------------------------------------------------------------

TEST_P(StoreConformanceTest, EverythingSurvivesReopen) {
  ASSERT_THAT(store().InsertKey({1, "data", {1, 2}, kT0, true}), IsOk());
  const User user{NewUuid(), "alice", false, kT0};
  ASSERT_THAT(store().InsertUser(user, nullptr), IsOk());
  Credential cred;
  cred.public_id = "pub";
  cred.kind = "key";
  cred.principal_id = user.id;
  cred.secret_hmac = {7, 7, 7};
  ASSERT_THAT(store().InsertCredential(cred, nullptr), IsOk());
  const Vault v = AddVault("v");
  NewSecretVersion n = NewVersion(v.id, "s");
  n.max_access_count = 10;
  auto first = store().PutSecretVersion(n, FakeSeal("one"), nullptr);
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(Put(v.id, "s", "two"), IsOk());
  ASSERT_THAT(store().ConsumeSecretAccess(first->secret_id, 1, nullptr), IsOk());
  ASSERT_THAT(store().DisableSecretVersion(v.id, "s", 2, kT0 + 2, nullptr), IsOk());

  Reopen();

  auto keys = store().LoadKeys();
  ASSERT_THAT(keys, IsOk());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].wrapped, (std::vector<uint8_t>{1, 2}));
  EXPECT_THAT(store().GetUser(user.id), IsOk());
  auto got_cred = store().GetCredential("pub");
  ASSERT_THAT(got_cred, IsOk());
  EXPECT_EQ(got_cred->secret_hmac, (std::vector<uint8_t>{7, 7, 7}));
  EXPECT_THAT(store().GetVault(v.id), IsOk());
  auto got = store().GetSecretVersion(v.id, "s", VersionSelector::LatestEnabled());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->access_count, 1);
  EXPECT_EQ(AsString(got->ciphertext), first->secret_id + "|1|one");
  auto disabled = store().GetSecretVersion(v.id, "s", VersionSelector::Exact(2));
  ASSERT_THAT(disabled, IsOk());
  EXPECT_EQ(disabled->disabled_at, kT0 + 2);
  // Numbering continues where it stopped.
  auto third = Put(v.id, "s");
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(third->version, 3);
}

}  // namespace
}  // namespace coffer::store_testing
