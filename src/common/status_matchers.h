// gMock matchers for Status and StatusOr<T>, for tests only (as Abseil's status_matchers.h): a
// test asserts on a result's code without reaching into an error that may not be there.
//   EXPECT_THAT(store.GetVault(id), StatusIs(StatusCode::kNotFound));
//   EXPECT_THAT(ParseRfc3339(text), StatusIs(StatusCode::kInvalidArgument, HasSubstr("RFC 3339")));
//   ASSERT_THAT(store.PutSecret(...), IsOk());
//   EXPECT_THAT(Half(8), IsOkAndHolds(4));
// Each takes a Status or a StatusOr<T>. A failure prints the code's name and the message, never a
// StatusOr's value (it may be a secret): common/status.h prints a StatusOr holding one as "OK".
#pragma once

#include <gmock/gmock.h>

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "common/status.h"

namespace coffer {

namespace status_matchers_internal {

inline const Status& StatusOf(const Status& status) { return status; }
template <typename T>
Status StatusOf(const std::expected<T, Status>& result) {
  return result.has_value() ? OkStatus() : result.error();
}

class StatusIsMatcher {
 public:
  StatusIsMatcher(::testing::Matcher<StatusCode> code,
                  ::testing::Matcher<const std::string&> message)
      : code_(std::move(code)), message_(std::move(message)) {}

  void DescribeTo(std::ostream* os) const {
    *os << "has a status whose code ";
    code_.DescribeTo(os);
    *os << " and whose message ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has a status whose code ";
    code_.DescribeNegationTo(os);
    *os << " or whose message ";
    message_.DescribeNegationTo(os);
  }

  template <typename Result>
  bool MatchAndExplain(const Result& result, ::testing::MatchResultListener* listener) const {
    const Status status = StatusOf(result);
    ::testing::StringMatchResultListener inner;
    if (!code_.MatchAndExplain(status.code(), &inner)) {
      *listener << "whose code " << status.code() << " does not match";
      return false;
    }
    if (!message_.MatchAndExplain(status.message(), &inner)) {
      *listener << "whose message does not match";
      if (!inner.str().empty()) *listener << ", " << inner.str();
      return false;
    }
    return true;
  }

 private:
  ::testing::Matcher<StatusCode> code_;
  ::testing::Matcher<const std::string&> message_;
};

class IsOkMatcher {
 public:
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }

  template <typename Result>
  bool MatchAndExplain(const Result& result, ::testing::MatchResultListener*) const {
    return StatusOf(result).ok();
  }
};

template <typename Result>
class IsOkAndHoldsImpl : public ::testing::MatcherInterface<Result> {
 public:
  using Value = typename std::remove_cvref_t<Result>::value_type;

  template <typename InnerMatcher>
  explicit IsOkAndHoldsImpl(InnerMatcher&& inner)
      : inner_(::testing::SafeMatcherCast<const Value&>(std::forward<InnerMatcher>(inner))) {}

  void DescribeTo(std::ostream* os) const override {
    *os << "is OK and holds a value that ";
    inner_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "is not OK, or holds a value that ";
    inner_.DescribeNegationTo(os);
  }

  bool MatchAndExplain(Result result, ::testing::MatchResultListener* listener) const override {
    if (!result.has_value()) return false;  // gMock prints the status as the actual value
    ::testing::StringMatchResultListener inner;
    if (!inner_.MatchAndExplain(*result, &inner)) {
      // The value itself is not printed: it may be a secret.
      *listener << "whose value does not match";
      if (!inner.str().empty()) *listener << ", " << inner.str();
      return false;
    }
    return true;
  }

 private:
  ::testing::Matcher<const Value&> inner_;
};

template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename Result>
  operator ::testing::Matcher<Result>() const {  // NOLINT: gMock's polymorphic matcher idiom
    return ::testing::Matcher<Result>(new IsOkAndHoldsImpl<const Result&>(inner_));
  }

 private:
  InnerMatcher inner_;
};

}  // namespace status_matchers_internal

// A Status, or a StatusOr's error, whose code matches `code` (a StatusCode or a matcher) and
// whose message matches `message` (a string, or a matcher such as HasSubstr). An OK result has
// code kOk and an empty message.
template <typename CodeMatcher, typename MessageMatcher>
::testing::PolymorphicMatcher<status_matchers_internal::StatusIsMatcher> StatusIs(
    CodeMatcher&& code, MessageMatcher&& message) {
  return ::testing::MakePolymorphicMatcher(status_matchers_internal::StatusIsMatcher(
      ::testing::MatcherCast<StatusCode>(std::forward<CodeMatcher>(code)),
      ::testing::MatcherCast<const std::string&>(std::forward<MessageMatcher>(message))));
}
template <typename CodeMatcher>
::testing::PolymorphicMatcher<status_matchers_internal::StatusIsMatcher> StatusIs(
    CodeMatcher&& code) {
  return StatusIs(std::forward<CodeMatcher>(code), ::testing::_);
}

// An OK Status, or a StatusOr holding a value.
inline ::testing::PolymorphicMatcher<status_matchers_internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(status_matchers_internal::IsOkMatcher());
}

// A StatusOr holding a value that matches `inner` (a value or a matcher).
template <typename InnerMatcher>
status_matchers_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>> IsOkAndHolds(
    InnerMatcher&& inner) {
  return status_matchers_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>>(
      std::forward<InnerMatcher>(inner));
}

}  // namespace coffer
