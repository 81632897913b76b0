// Tests for Status / StatusOr and the RETURN_IF_ERROR / ASSIGN_OR_RETURN macros, in functions
// returning Status and functions returning StatusOr, with copyable and move-only values.
#include "common/status.h"

#include <gtest/gtest.h>

#include <expected>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "common/status_matchers.h"

namespace coffer {
namespace {

TEST(StatusTest, DefaultIsOk) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s, OkStatus());
}

TEST(StatusTest, ConstructorsSetCodeAndMessage) {
  const std::pair<Status, StatusCode> cases[] = {
      {InvalidArgumentError("m"), StatusCode::kInvalidArgument},
      {NotFoundError("m"), StatusCode::kNotFound},
      {AlreadyExistsError("m"), StatusCode::kAlreadyExists},
      {PermissionDeniedError("m"), StatusCode::kPermissionDenied},
      {UnauthenticatedError("m"), StatusCode::kUnauthenticated},
      {ResourceExhaustedError("m"), StatusCode::kResourceExhausted},
      {FailedPreconditionError("m"), StatusCode::kFailedPrecondition},
      {AbortedError("m"), StatusCode::kAborted},
      {OutOfRangeError("m"), StatusCode::kOutOfRange},
      {UnimplementedError("m"), StatusCode::kUnimplemented},
      {InternalError("m"), StatusCode::kInternal},
      {UnavailableError("m"), StatusCode::kUnavailable},
      {DataLossError("m"), StatusCode::kDataLoss},
      {GoneError("m"), StatusCode::kGone},
  };
  for (const auto& [status, code] : cases) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), code);
    EXPECT_EQ(status.message(), "m");
  }
}

TEST(StatusTest, CodeNames) {
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_EQ(StatusCodeName(StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(StatusCodeName(StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(StatusCode::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_EQ(StatusCodeName(StatusCode::kDataLoss), "DATA_LOSS");
  EXPECT_EQ(StatusCodeName(StatusCode::kGone), "GONE");
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(55)), "UNKNOWN");
  // Every defined code has its own name.
  std::set<std::string_view> names;
  for (int c = 0; c <= 16; ++c) names.insert(StatusCodeName(static_cast<StatusCode>(c)));
  names.insert(StatusCodeName(StatusCode::kGone));
  EXPECT_EQ(names.size(), 18u);
}

TEST(StatusTest, ToStringAndStream) {
  EXPECT_EQ(NotFoundError("vault not found").ToString(), "NOT_FOUND: vault not found");
  EXPECT_EQ(Status(StatusCode::kInternal, "").ToString(), "INTERNAL");
  std::ostringstream os;
  os << GoneError("expired");
  EXPECT_EQ(os.str(), "GONE: expired");
  os.str("");
  os << StatusCode::kPermissionDenied;
  EXPECT_EQ(os.str(), "PERMISSION_DENIED");
  // A StatusOr prints its status, never its value.
  os.str("");
  os << StatusOr<std::string>("canary-value") << " / "
     << StatusOr<std::string>(Err(AbortedError("x")));
  EXPECT_EQ(os.str(), "OK / ABORTED: x");
}

TEST(StatusTest, Equality) {
  EXPECT_EQ(NotFoundError("a"), NotFoundError("a"));
  EXPECT_NE(NotFoundError("a"), NotFoundError("b"));
  EXPECT_NE(NotFoundError("a"), InternalError("a"));
}

TEST(StatusTest, OkCarriesNoMessageNorPayload) {
  const Status ok(StatusCode::kOk, "all good", {.storage_fault = StorageFault::kFull});
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
  EXPECT_EQ(ok.payload(), StatusPayload{});
  EXPECT_EQ(ok, OkStatus());
  EXPECT_EQ(ok.ToString(), "OK");
  Status also_ok;
  also_ok.SetPayload({.retry_after = std::chrono::seconds(3)});
  EXPECT_EQ(also_ok.payload(), StatusPayload{});
}

TEST(StatusTest, PayloadIsPartOfTheStatus) {
  Status limited = ResourceExhaustedError("slow down");
  EXPECT_EQ(limited.payload(), StatusPayload{});
  limited.SetPayload({.retry_after = std::chrono::seconds(2)});
  EXPECT_EQ(limited.payload().retry_after, std::chrono::seconds(2));
  EXPECT_EQ(limited.payload().storage_fault, StorageFault::kNone);
  EXPECT_EQ(limited.ToString(), "RESOURCE_EXHAUSTED: slow down") << "the payload is not printed";
  // Equal only with the same payload.
  EXPECT_NE(limited, ResourceExhaustedError("slow down"));
  EXPECT_EQ(limited, Status(StatusCode::kResourceExhausted, "slow down",
                            {.retry_after = std::chrono::microseconds(2'000'000)}));
  EXPECT_NE(limited, Status(StatusCode::kResourceExhausted, "slow down",
                            {.retry_after = std::chrono::seconds(3)}));
  // Copies and moves carry it.
  const Status copy = limited;
  EXPECT_EQ(copy.payload().retry_after, std::chrono::seconds(2));
  Status moved = std::move(limited);
  EXPECT_EQ(moved.payload().retry_after, std::chrono::seconds(2));
  StatusOr<int> result = Err(moved);
  EXPECT_EQ(result.error().payload().retry_after, std::chrono::seconds(2));
}

TEST(StatusOrTest, ValueAndError) {
  StatusOr<int> v = 5;
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 5);
  StatusOr<int> e = Err(NotFoundError("nope"));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error(), NotFoundError("nope"));
}

TEST(StatusOrTest, ConvertsLikeStdExpected) {
  // From the plain std::expected, value or error.
  const std::expected<int, Status> plain = 7;
  const StatusOr<int> from_plain = plain;
  EXPECT_EQ(from_plain.value(), 7);
  const StatusOr<int> from_error = std::expected<int, Status>(Err(AbortedError("x")));
  EXPECT_EQ(from_error.error(), AbortedError("x"));
  // From a StatusOr of a convertible type, value or error.
  const StatusOr<long> widened = StatusOr<int>(5);
  EXPECT_EQ(widened.value(), 5L);
  const StatusOr<long> failed = StatusOr<int>(Err(GoneError("expired")));
  EXPECT_EQ(failed.error(), GoneError("expired"));
  const StatusOr<void> nothing;
  EXPECT_TRUE(nothing.has_value());
}

// --- the macros -------------------------------------------------------------------------------

Status Check(bool ok, int* calls) {
  ++*calls;
  return ok ? OkStatus() : InvalidArgumentError("bad input");
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return Err(InvalidArgumentError("odd"));
  return x / 2;
}

StatusOr<std::unique_ptr<int>> MakeBox(int x) {
  if (x < 0) return Err(OutOfRangeError("negative"));
  return std::make_unique<int>(x);
}

// Status-returning function using both macros.
Status StatusFn(bool ok, int x, int* out, int* calls) {
  RETURN_IF_ERROR(Check(ok, calls));
  ASSIGN_OR_RETURN(const int half, Half(x));
  *out = half;
  return OkStatus();
}

// StatusOr-returning function using both macros, including on a StatusOr in RETURN_IF_ERROR.
StatusOr<int> StatusOrFn(bool ok, int x, int* calls) {
  RETURN_IF_ERROR(Check(ok, calls));
  RETURN_IF_ERROR(Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(x / 2));
  return quarter;
}

StatusOr<int> MoveOnlyFn(int x) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(x));
  ASSIGN_OR_RETURN(auto again, MakeBox(*box + 1));  // two on distinct lines in one scope
  return *again;
}

TEST(StatusMacrosTest, ReturnIfErrorInStatusFunction) {
  int out = 0;
  int calls = 0;
  EXPECT_TRUE(StatusFn(true, 8, &out, &calls).ok());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(calls, 1);  // the expression is evaluated exactly once
  const Status s = StatusFn(false, 8, &out, &calls);
  EXPECT_EQ(s, InvalidArgumentError("bad input"));
  EXPECT_EQ(calls, 2);
}

TEST(StatusMacrosTest, AssignOrReturnInStatusFunction) {
  int out = -1;
  int calls = 0;
  const Status s = StatusFn(true, 7, &out, &calls);
  EXPECT_EQ(s, InvalidArgumentError("odd"));
  EXPECT_EQ(out, -1);  // nothing after the failing line ran
}

TEST(StatusMacrosTest, InStatusOrFunction) {
  int calls = 0;
  auto ok = StatusOrFn(true, 8, &calls);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 2);
  auto first = StatusOrFn(false, 8, &calls);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error(), InvalidArgumentError("bad input"));
  auto second = StatusOrFn(true, 3, &calls);  // RETURN_IF_ERROR on a StatusOr
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error(), InvalidArgumentError("odd"));
  auto third = StatusOrFn(true, 6, &calls);  // 6/2 = 3 is odd: ASSIGN_OR_RETURN fails
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error(), InvalidArgumentError("odd"));
}

TEST(StatusMacrosTest, PropagationKeepsThePayload) {
  const Status full = Status(StatusCode::kUnavailable, "store: exec: disk full",
                             {.storage_fault = StorageFault::kFull});
  const auto fails = [&]() -> StatusOr<int> { return Err(full); };
  const auto status_fn = [&]() -> Status {
    RETURN_IF_ERROR(fails());
    return OkStatus();
  };
  const auto status_or_fn = [&]() -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(int n, fails());
    return std::to_string(n);
  };
  EXPECT_EQ(status_fn(), full);
  EXPECT_EQ(status_fn().payload().storage_fault, StorageFault::kFull);
  auto result = status_or_fn();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error(), full);
}

TEST(StatusMacrosTest, MoveOnlyValues) {
  auto ok = MoveOnlyFn(41);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 42);
  EXPECT_THAT(MoveOnlyFn(-5), StatusIs(StatusCode::kOutOfRange, "negative"));
}

// Braces are deliberately left out: the macro must expand to exactly one statement, so that
// the `else` binds to the `if` as written.
TEST(StatusMacrosTest, WorksAsSingleStatementInIfElse) {
  // NOLINTBEGIN(readability-braces-around-statements)
  const auto fn = [](bool fail) -> Status {
    if (fail)
      RETURN_IF_ERROR(InternalError("x"));
    else
      return OkStatus();
    return AbortedError("unreachable");
  };
  // NOLINTEND(readability-braces-around-statements)
  EXPECT_EQ(fn(true).code(), StatusCode::kInternal);
  EXPECT_TRUE(fn(false).ok());
}

}  // namespace
}  // namespace coffer
