// Tests for the Status -> HTTP problem table and the problem+json body: stable type URIs,
// hidden internal messages, JSON escaping, the 401 challenge header, and what a payload adds
// (a storage fault's type, Retry-After).
#include "http/problem_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <utility>

namespace coffer::http {
namespace {

boost::json::object ParseBody(const Response& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  if (ec || !v.is_object()) {
    return {};
  }
  return v.as_object();
}

std::string Field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return "<missing>";
  }
  return std::string(v->as_string());
}

struct MappingCase {
  StatusCode code;
  int http_status;
  std::string slug;
};

TEST(ProblemJsonTest, TableMapsEveryCode) {
  const MappingCase cases[] = {
      {StatusCode::kInvalidArgument, 400, "invalid-argument"},
      {StatusCode::kOutOfRange, 400, "out-of-range"},
      {StatusCode::kUnauthenticated, 401, "unauthenticated"},
      {StatusCode::kPermissionDenied, 403, "permission-denied"},
      {StatusCode::kNotFound, 404, "not-found"},
      {StatusCode::kAlreadyExists, 409, "already-exists"},
      {StatusCode::kAborted, 409, "aborted"},
      {StatusCode::kFailedPrecondition, 409, "failed-precondition"},
      {StatusCode::kGone, 410, "gone"},
      {StatusCode::kResourceExhausted, 429, "resource-exhausted"},
      {StatusCode::kUnimplemented, 501, "unimplemented"},
      {StatusCode::kUnavailable, 503, "unavailable"},
      {StatusCode::kDeadlineExceeded, 504, "deadline-exceeded"},
      {StatusCode::kDataLoss, 500, "data-integrity"},
      {StatusCode::kInternal, 500, "internal"},
      {StatusCode::kUnknown, 500, "internal"},
      {StatusCode::kCancelled, 500, "internal"},
  };
  for (const MappingCase& c : cases) {
    SCOPED_TRACE(std::string(StatusCodeName(c.code)));
    EXPECT_EQ(HttpStatusFor(c.code), c.http_status);
    Response r = ProblemFromStatus(Status(c.code, "the message"));
    EXPECT_EQ(r.status, c.http_status);
    EXPECT_EQ(r.content_type, "application/problem+json");
    boost::json::object body = ParseBody(r);
    EXPECT_EQ(Field(body, "type"), "urn:coffer:problem:" + c.slug);
    EXPECT_NE(Field(body, "title"), "<missing>");
    ASSERT_TRUE(body.contains("status"));
    EXPECT_EQ(body.at("status").as_int64(), c.http_status);
  }
}

TEST(ProblemJsonTest, ClientErrorsKeepTheMessage) {
  Response r = ProblemFromStatus(InvalidArgumentError("length must be 8..1024"));
  boost::json::object body = ParseBody(r);
  EXPECT_EQ(Field(body, "detail"), "length must be 8..1024");
  EXPECT_EQ(Field(body, "title"), "Invalid request");
}

TEST(ProblemJsonTest, UnavailableKeepsTheMessage) {
  Response r = ProblemFromStatus(UnavailableError("store is read-only"));
  EXPECT_EQ(Field(ParseBody(r), "detail"), "store is read-only");
}

TEST(ProblemJsonTest, StorageFaultsNameTheirCauseInTheType) {
  const std::pair<StorageFault, std::string> cases[] = {
      {StorageFault::kFull, "storage-full"},
      {StorageFault::kReadOnly, "storage-read-only"},
      {StorageFault::kIoError, "storage-io-error"},
  };
  for (const auto& [fault, slug] : cases) {
    Response r = ProblemFromStatus(
        Status(StatusCode::kUnavailable, "store: exec: disk I/O error", {.storage_fault = fault}));
    EXPECT_EQ(r.status, 503);
    boost::json::object body = ParseBody(r);
    EXPECT_EQ(Field(body, "type"), "urn:coffer:problem:" + slug);
    EXPECT_EQ(Field(body, "detail"), "store: exec: disk I/O error");
  }
  // The payload says it, not the message: words alone name nothing.
  Response plain = ProblemFromStatus(UnavailableError("store: exec: disk full (storage full)"));
  EXPECT_EQ(Field(ParseBody(plain), "type"), "urn:coffer:problem:unavailable");
  // Only a 503 is refined: an internal error with a fault stays a hidden 500.
  Response r =
      ProblemFromStatus(Status(StatusCode::kInternal, "x", {.storage_fault = StorageFault::kFull}));
  EXPECT_EQ(Field(ParseBody(r), "type"), "urn:coffer:problem:internal");
}

TEST(ProblemJsonTest, AnUnreachableKeyProviderIsA503OfItsOwnType) {
  Response r = ProblemFromStatus(
      Status(StatusCode::kUnavailable, "the root key's PKCS#11 token t, object o cannot be reached",
             {.key_provider_unavailable = true}));
  EXPECT_EQ(r.status, 503);
  boost::json::object body = ParseBody(r);
  EXPECT_EQ(Field(body, "type"), "urn:coffer:problem:key-provider-unavailable");
  EXPECT_EQ(Field(body, "title"), "Key provider unavailable");
}

TEST(ProblemJsonTest, RetryAfterIsWholeSecondsRoundedUp) {
  const std::pair<std::chrono::microseconds, std::string> cases[] = {
      {std::chrono::microseconds(1), "1"},
      {std::chrono::seconds(1), "1"},
      {std::chrono::microseconds(1'000'001), "2"},
      {std::chrono::seconds(60), "60"},
  };
  for (const auto& [wait, header] : cases) {
    Response r = ProblemFromStatus(
        Status(StatusCode::kResourceExhausted, "slow down", {.retry_after = wait}));
    EXPECT_EQ(r.status, 429);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "Retry-After");
    EXPECT_EQ(r.headers[0].second, header);
  }
  // None when the status says no wait, and only on a 429.
  EXPECT_TRUE(ProblemFromStatus(ResourceExhaustedError("slow down")).headers.empty());
  EXPECT_TRUE(ProblemFromStatus(
                  Status(StatusCode::kUnavailable, "x", {.retry_after = std::chrono::seconds(5)}))
                  .headers.empty());
}

TEST(ProblemJsonTest, InternalErrorsHideTheMessage) {
  for (StatusCode code : {StatusCode::kInternal, StatusCode::kDataLoss, StatusCode::kUnknown}) {
    Response r = ProblemFromStatus(Status(code, "sqlite: disk I/O error at /var/lib/coffer/db"));
    EXPECT_EQ(r.body.find("sqlite"), std::string::npos) << r.body;
    EXPECT_EQ(Field(ParseBody(r), "detail"), "internal error");
  }
}

TEST(ProblemJsonTest, UnauthenticatedAddsBearerChallenge) {
  Response r = ProblemFromStatus(UnauthenticatedError("missing bearer token"));
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(r.headers[0].second, "Bearer");
  Response direct = Problem(401, "unauthenticated", "Unauthenticated", "x");
  EXPECT_EQ(direct.headers.size(), 1u);
  EXPECT_TRUE(ProblemFromStatus(NotFoundError("x")).headers.empty());
}

TEST(ProblemJsonTest, DetailIsEscaped) {
  const std::string nasty = "bad \"path\" \\ with\nnewline, tab\t and \x01 control </script>";
  Response r = ProblemFromStatus(InvalidArgumentError(nasty));
  EXPECT_EQ(r.body.find('\n'), std::string::npos);
  EXPECT_EQ(Field(ParseBody(r), "detail"), nasty);
}

TEST(ProblemJsonTest, InvalidUtf8IsReplaced) {
  Response r = ProblemFromStatus(InvalidArgumentError("path \xff\xfe/\xc3\xa9"));
  EXPECT_EQ(Field(ParseBody(r), "detail"), "path \xEF\xBF\xBD\xEF\xBF\xBD/\xc3\xa9");
}

TEST(ProblemJsonTest, HugeDetailIsCapped) {
  Response r = ProblemFromStatus(InvalidArgumentError(std::string(100000, 'a')));
  EXPECT_LT(r.body.size(), 4096u);
  EXPECT_FALSE(Field(ParseBody(r), "detail").empty());
}

TEST(ProblemJsonTest, ProblemUsesSlugAndTitle) {
  Response r = Problem(413, "payload-too-large", "Payload too large",
                       "request body exceeds the 1048576-byte limit");
  EXPECT_EQ(r.status, 413);
  boost::json::object body = ParseBody(r);
  EXPECT_EQ(Field(body, "type"), "urn:coffer:problem:payload-too-large");
  EXPECT_EQ(Field(body, "title"), "Payload too large");
  EXPECT_EQ(Field(body, "detail"), "request body exceeds the 1048576-byte limit");
}

}  // namespace
}  // namespace coffer::http
