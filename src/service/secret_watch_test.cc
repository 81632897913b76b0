// SecretWatchers: a watch is told of changes to its secret (or under its prefix) in its vault,
// of the vault's deletion and of kEverything, and of nothing else; a dropped token is never
// called again. LatestReadableVersion reads without counting and needs read permission.
#include "service/secret_watch.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/status_matchers.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

TEST(SecretWatchersTest, AWatchIsToldOfItsSecretOnly) {
  ChangeFeed feed(ChangeFeed::Writers::kThisProcess);
  SecretWatchers watchers(feed);
  std::atomic<int> exact = 0;
  std::atomic<int> prefix = 0;
  auto a = watchers.Watch("v1", "app/db", /*prefix=*/false, [&] { ++exact; });
  auto b = watchers.Watch("v1", "app/", /*prefix=*/true, [&] { ++prefix; });
  EXPECT_EQ(watchers.size(), 2u);

  feed.Publish(StoreChange::Secret("v1", "app/db"));
  EXPECT_EQ(exact, 1);
  EXPECT_EQ(prefix, 1);
  feed.Publish(StoreChange::Secret("v1", "app/other"));  // under the prefix only
  EXPECT_EQ(exact, 1);
  EXPECT_EQ(prefix, 2);
  feed.Publish(StoreChange::Secret("v1", "app/db2"));  // not the exact path
  EXPECT_EQ(exact, 1);
  feed.Publish(StoreChange::Secret("v2", "app/db"));  // another vault
  feed.Publish(StoreChange::Policies("v1"));
  feed.Publish(StoreChange::Credential("abc"));
  EXPECT_EQ(exact, 1);
  EXPECT_EQ(prefix, 3);
  feed.Publish(StoreChange::Vault("v1"));  // deleted: every watch of the vault looks again
  EXPECT_EQ(exact, 2);
  EXPECT_EQ(prefix, 4);
  feed.Publish(StoreChange::Everything());
  EXPECT_EQ(exact, 3);
  EXPECT_EQ(prefix, 5);

  a.reset();
  EXPECT_EQ(watchers.size(), 1u);
  feed.Publish(StoreChange::Secret("v1", "app/db"));
  EXPECT_EQ(exact, 3);  // never called again
  EXPECT_EQ(prefix, 6);
}

TEST(SecretWatchersTest, AStoreWriteWakesTheWatch) {
  ServiceTestEnv env;
  const std::string vault = env.NewVault();
  std::atomic<int> woken = 0;
  auto token =
      env.secrets_->watchers().Watch(vault, "db/password", /*prefix=*/false, [&] { ++woken; });
  PutSecretRequest put;
  put.type = "password";
  put.value = SecretBuffer("first");
  ASSERT_THAT(env.secrets_->Put(env.AdminCtx(), vault, "db/password", std::move(put)), IsOk());
  EXPECT_EQ(woken, 1);
}

TEST(SecretWatchersTest, LatestReadableVersionNeitherRevealsNorCounts) {
  ServiceTestEnv env;
  const std::string vault = env.NewVault();
  EXPECT_THAT(env.secrets_->LatestReadableVersion(env.AdminCtx(), vault, "k"), IsOkAndHolds(0));
  for (int i = 0; i < 2; ++i) {
    PutSecretRequest put;
    put.type = "password";
    put.value = SecretBuffer("v");
    put.max_access_count = 1;
    ASSERT_THAT(env.secrets_->Put(env.AdminCtx(), vault, "k", std::move(put)), IsOk());
  }
  EXPECT_THAT(env.secrets_->LatestReadableVersion(env.AdminCtx(), vault, "k"), IsOkAndHolds(2));
  EXPECT_THAT(env.secrets_->LatestReadableVersion(env.AdminCtx(), vault, "k"), IsOkAndHolds(2));
  // The one read the limit allows is still there.
  EXPECT_THAT(env.secrets_->Get(env.AdminCtx(), vault, "k"), IsOk());
  ASSERT_THAT(env.secrets_->DisableVersion(env.AdminCtx(), vault, "k", "2"), IsOk());
  EXPECT_THAT(env.secrets_->LatestReadableVersion(env.AdminCtx(), vault, "k"), IsOkAndHolds(1));
  RequestContext stranger{{PrincipalKind::kAgent, "someone", "x", false, ""}, "req", "127.0.0.1"};
  EXPECT_THAT(env.secrets_->LatestReadableVersion(stranger, vault, "k"),
              StatusIs(StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace coffer
