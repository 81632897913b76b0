// The Status matchers: what they match on a Status and on a StatusOr either way, and what a
// failure says (the code's name and the message, never a StatusOr's value).
#include "common/status_matchers.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace coffer {
namespace {

using ::testing::DescribeMatcher;
using ::testing::HasSubstr;
using ::testing::Matcher;
using ::testing::Not;
using ::testing::StringMatchResultListener;

// What `matcher` says of `value` when it does not match (or "" when it does).
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  StringMatchResultListener listener;
  if (::testing::ExplainMatchResult(matcher, value, &listener)) return "";
  return listener.str();
}

// The text of the failures `body` reports, all together.
template <typename Body>
std::string FailureText(Body body) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    body();
  }
  std::string text;
  for (int i = 0; i < results.size(); ++i) text += results.GetTestPartResult(i).message();
  return text;
}

StatusOr<int> Value(int v) { return v; }
StatusOr<int> Failed(Status s) { return Err(std::move(s)); }

TEST(StatusMatchersTest, StatusIsMatchesTheCodeAndMessage) {
  const Status missing = NotFoundError("vault not found");
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound, "vault not found"));
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound, HasSubstr("vault")));
  EXPECT_THAT(missing, Not(StatusIs(StatusCode::kInternal)));
  EXPECT_THAT(missing, Not(StatusIs(StatusCode::kNotFound, "secret not found")));
  EXPECT_THAT(missing, StatusIs(Not(StatusCode::kOk)));
  EXPECT_THAT(OkStatus(), StatusIs(StatusCode::kOk, ""));
}

TEST(StatusMatchersTest, StatusIsOnAStatusOrNeverReadsAMissingError) {
  EXPECT_THAT(Failed(GoneError("expired")), StatusIs(StatusCode::kGone, "expired"));
  // A StatusOr holding a value is OK: it matches kOk, and nothing else.
  EXPECT_THAT(Value(3), Not(StatusIs(StatusCode::kGone)));
  EXPECT_THAT(Value(3), StatusIs(StatusCode::kOk));
  const StatusOr<std::unique_ptr<int>> move_only = std::make_unique<int>(1);
  EXPECT_THAT(move_only, Not(StatusIs(StatusCode::kInternal)));
}

TEST(StatusMatchersTest, IsOkAndIsOkAndHolds) {
  EXPECT_THAT(OkStatus(), IsOk());
  EXPECT_THAT(Value(3), IsOk());
  EXPECT_THAT(InternalError("x"), Not(IsOk()));
  EXPECT_THAT(Failed(InternalError("x")), Not(IsOk()));
  EXPECT_THAT(Value(3), IsOkAndHolds(3));
  EXPECT_THAT(Value(3), IsOkAndHolds(::testing::Gt(2)));
  EXPECT_THAT(Value(3), Not(IsOkAndHolds(4)));
  EXPECT_THAT(Failed(InternalError("x")), Not(IsOkAndHolds(3)));
  const StatusOr<std::string> text = std::string("hello");
  EXPECT_THAT(text, IsOkAndHolds(HasSubstr("ell")));
}

TEST(StatusMatchersTest, DescriptionsNameTheCode) {
  EXPECT_EQ(DescribeMatcher<Status>(StatusIs(StatusCode::kNotFound)),
            "has a status whose code is equal to NOT_FOUND and whose message is anything");
  EXPECT_EQ(DescribeMatcher<StatusOr<int>>(StatusIs(StatusCode::kGone, "expired")),
            "has a status whose code is equal to GONE and whose message is equal to \"expired\"");
  EXPECT_EQ(DescribeMatcher<Status>(IsOk()), "is OK");
  EXPECT_EQ(DescribeMatcher<Status>(IsOk(), /*negation=*/true), "is not OK");
  EXPECT_EQ(DescribeMatcher<StatusOr<int>>(IsOkAndHolds(3)),
            "is OK and holds a value that is equal to 3");
}

TEST(StatusMatchersTest, ExplanationsSayWhatDiffers) {
  EXPECT_EQ(Explain(StatusIs(StatusCode::kNotFound), InternalError("boom")),
            "whose code INTERNAL does not match");
  EXPECT_EQ(Explain(StatusIs(StatusCode::kNotFound, "a"), Failed(NotFoundError("b"))),
            "whose message does not match");
  EXPECT_EQ(Explain(StatusIs(StatusCode::kNotFound), Value(1)), "whose code OK does not match");
  EXPECT_EQ(Explain(StatusIs(StatusCode::kNotFound), NotFoundError("b")), "");
  const Matcher<const StatusOr<std::vector<int>>&> two = IsOkAndHolds(::testing::SizeIs(2));
  EXPECT_EQ(Explain(two, StatusOr<std::vector<int>>(std::vector<int>{1, 2, 3})),
            "whose value does not match, whose size 3 doesn't match");
}

TEST(StatusMatchersTest, AFailurePrintsTheStatusButNeverTheValue) {
  const std::string failed = FailureText([] {
    EXPECT_THAT(Failed(PermissionDeniedError("not a member of the vault")),
                StatusIs(StatusCode::kNotFound));
  });
  EXPECT_THAT(failed, HasSubstr("PERMISSION_DENIED: not a member of the vault"));
  EXPECT_THAT(failed, HasSubstr("whose code PERMISSION_DENIED does not match"));
  EXPECT_THAT(failed, HasSubstr("whose code is equal to NOT_FOUND"));

  const std::string canary = "canary-7d1f0c9e";
  const std::string held = FailureText([&] {
    EXPECT_THAT(StatusOr<std::string>(canary), StatusIs(StatusCode::kNotFound));
    EXPECT_THAT(StatusOr<std::string>(canary), IsOkAndHolds(HasSubstr("something else")));
  });
  EXPECT_THAT(held, HasSubstr("whose code OK does not match"));
  EXPECT_THAT(held, HasSubstr("whose value does not match"));
  EXPECT_THAT(held, Not(HasSubstr(canary)));
}

}  // namespace
}  // namespace coffer
