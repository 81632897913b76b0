// Listings filtered by policy: a caller who may list only some paths pages through exactly
// those, in order, whatever the page size and scan budget, and no field of any answer (the
// cursor included) names a path it may not list.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "service/list_cursor.h"
#include "service/service_test_env.h"

namespace coffer {
namespace {

using ::testing::HasSubstr;

class SecretListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Visible to the agent (list on `api-keys/*-v`): api-keys/kNN-v, for NN % 3 != 1. The
    // rest is not: api-keys/kNN-h between them, what lies below any of them, and whole runs
    // before and after.
    for (int i = 0; i < 7; ++i) all_.push_back("a/" + std::to_string(i));
    all_.push_back("api-keys-prod/x-v");
    for (int i = 0; i < 20; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "api-keys/k%02d-%c", i, i % 3 != 1 ? 'v' : 'h');
      all_.push_back(name);
      if (i % 3 != 1) visible_.push_back(name);
      for (int j = 0; j < (i % 4) * 2; ++j) {
        all_.push_back(std::string(name) + "/n" + std::to_string(j));
      }
    }
    for (int i = 0; i < 10; ++i) all_.push_back("db/" + std::to_string(i));
    std::sort(all_.begin(), all_.end());
    for (const std::string& path : all_) {
      PutSecretRequest put;
      put.type = "password";
      put.value = SecretBuffer("v");
      ASSERT_TRUE(env_.secrets_->Put(env_.AdminCtx(), vault_, path, std::move(put)).has_value());
      if (std::find(visible_.begin(), visible_.end(), path) == visible_.end()) {
        invisible_.push_back(path);
      }
    }
    auto agent = env_.agents_->Create(env_.AdminCtx(), {"lister", ""});
    ASSERT_TRUE(agent.has_value()) << agent.error();
    agent_ = RequestContext{
        {PrincipalKind::kAgent, agent->agent.id, "lister", false, ""}, "req-agent", "127.0.0.1"};
    CreatePolicyRequest grant = PolicyGrant("agent", agent->agent.id, "api-keys/*-v", {"list"});
    ASSERT_TRUE(env_.policies_->Create(env_.AdminCtx(), vault_, grant).has_value());
  }

  // Pages through the listing as `ctx`; checks every answer and returns the paths in order.
  std::vector<std::string> PageThrough(SecretService& service, const RequestContext& ctx,
                                       int64_t limit, std::string_view prefix,
                                       int* sealed_cursors) {
    std::vector<std::string> seen;
    std::string after;
    for (int page = 0; page < 1000; ++page) {
      auto got = service.List(ctx, vault_, prefix, after, limit);
      EXPECT_TRUE(got.has_value()) << got.error();
      if (!got.has_value()) break;
      EXPECT_LE(got->secrets.size(), static_cast<size_t>(limit));
      for (const SecretSummary& s : got->secrets) seen.push_back(s.path);
      const std::string& next = got->next_after;
      if (IsListCursor(next)) {
        ++*sealed_cursors;
        for (const std::string& hidden : invisible_) {
          EXPECT_EQ(next.find(hidden), std::string::npos) << "a cursor names " << hidden;
        }
      } else if (!next.empty()) {
        EXPECT_FALSE(got->secrets.empty()) << "a plain cursor is the last path returned";
        if (!got->secrets.empty()) {
          EXPECT_EQ(next, got->secrets.back().path);
        }
      }
      if (next.empty()) return seen;
      after = next;
    }
    ADD_FAILURE() << "paging did not end";
    return seen;
  }

  ServiceTestEnv env_;
  std::string vault_ = env_.NewVault();
  RequestContext agent_;
  std::vector<std::string> all_, visible_, invisible_;
};

TEST_F(SecretListingTest, PagingReturnsEveryVisiblePathInOrderAndNothingElse) {
  for (size_t budget : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8}, kMaxListScan}) {
    SecretService service(*env_.deps_, *env_.keyring_, {}, budget);
    for (int64_t limit : {1, 2, 3, 7, 1000}) {
      int sealed = 0;
      EXPECT_EQ(PageThrough(service, agent_, limit, "", &sealed), visible_)
          << "budget " << budget << " limit " << limit;
      if (budget >= kMaxListScan) {
        EXPECT_EQ(sealed, 0) << "a sealed cursor only when the budget runs out";
      }
      if (budget <= 3 && limit >= 3) {
        EXPECT_GT(sealed, 0) << "runs of hidden paths longer than the budget";
      }
      std::vector<std::string> under;
      for (const std::string& p : visible_) {
        if (p.starts_with("api-keys/k1")) under.push_back(p);
      }
      EXPECT_EQ(PageThrough(service, agent_, limit, "api-keys/k1", &sealed), under);
    }
  }
}

TEST_F(SecretListingTest, TheLastPageEndsWithoutACursorWhenNothingVisibleFollows) {
  SecretService service(*env_.deps_, *env_.keyring_);
  // The last visible path is followed by hidden ones (its children, then db/…): the page
  // holding it says that nothing more is there rather than sending the caller to an empty page.
  auto page = service.List(agent_, vault_, "", "", static_cast<int64_t>(visible_.size()));
  ASSERT_TRUE(page.has_value()) << page.error();
  EXPECT_EQ(page->secrets.size(), visible_.size());
  EXPECT_EQ(page->next_after, "");
  auto first = service.List(agent_, vault_, "", "", 1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->next_after, visible_.front());
}

TEST_F(SecretListingTest, TheOwnerStillPagesThroughEverything) {
  int sealed = 0;
  EXPECT_EQ(PageThrough(*env_.secrets_, env_.AdminCtx(), 4, "", &sealed), all_);
  EXPECT_EQ(sealed, 0);
}

TEST_F(SecretListingTest, ASealedCursorWorksOnlyForWhomItWasIssued) {
  SecretService service(*env_.deps_, *env_.keyring_, {}, 2);
  auto page = service.List(agent_, vault_, "", "", 5);  // a/0, a/1 are hidden: budget runs out
  ASSERT_TRUE(page.has_value()) << page.error();
  ASSERT_TRUE(IsListCursor(page->next_after)) << page->next_after;
  const std::string cursor = page->next_after;
  EXPECT_TRUE(service.List(agent_, vault_, "", cursor, 5).has_value());
  // Another principal, another vault, or a changed character: refused with a clear 400.
  auto other = service.List(env_.AdminCtx(), vault_, "", cursor, 5);
  EXPECT_THAT(other, StatusIs(StatusCode::kInvalidArgument, HasSubstr("after")));
  std::string altered = cursor;
  altered[10] = altered[10] == 'A' ? 'B' : 'A';
  EXPECT_THAT(service.List(agent_, vault_, "", altered, 5), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(service.List(agent_, vault_, "", "~", 5), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(service.List(agent_, vault_, "", cursor.substr(0, cursor.size() - 4), 5),
              StatusIs(StatusCode::kInvalidArgument));
  // Every sealed cursor has the same length, whatever path it holds.
  auto later = service.List(agent_, vault_, "", "api-keys/k18-v", 5);
  ASSERT_TRUE(later.has_value());
  ASSERT_TRUE(IsListCursor(later->next_after)) << later->next_after;
  EXPECT_EQ(later->next_after.size(), cursor.size());
}

}  // namespace
}  // namespace coffer
