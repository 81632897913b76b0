// Tests for problem+json answers turned into Status, and the transport's percent-encoding.
#include "client/problem.h"

#include <gtest/gtest.h>

#include "client/http_transport.h"
#include "client/wiping_json.h"
#include "common/status_matchers.h"

namespace coffer::client {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ProblemTest, CarriesTitleDetailAndHttpStatus) {
  Problem p = ParseProblem(404, "application/problem+json",
                           R"({"type":"urn:coffer:problem:not-found","title":"Not found",)"
                           R"("status":404,"detail":"vault not found"})");
  EXPECT_EQ(p.title, "Not found");
  EXPECT_EQ(p.detail, "vault not found");
  Status s = ProblemStatus(p);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "Not found (HTTP 404): vault not found");
  EXPECT_EQ(HttpStatusOf(s), 404);
  EXPECT_EQ(DetailOf(s), "vault not found");
}

TEST(ProblemTest, CodeFollowsTheTypeThenTheHttpStatus) {
  struct Case {
    int http;
    const char* type;
    StatusCode code;
  };
  for (const Case& c :
       {Case{409, "urn:coffer:problem:failed-precondition", StatusCode::kFailedPrecondition},
        Case{409, "urn:coffer:problem:already-exists", StatusCode::kAlreadyExists},
        Case{401, "", StatusCode::kUnauthenticated}, Case{403, "", StatusCode::kPermissionDenied},
        Case{410, "", StatusCode::kGone}, Case{429, "", StatusCode::kResourceExhausted},
        Case{400, "", StatusCode::kInvalidArgument}, Case{413, "", StatusCode::kInvalidArgument},
        Case{503, "", StatusCode::kUnavailable}, Case{500, "", StatusCode::kInternal},
        Case{502, "", StatusCode::kUnavailable}}) {
    Problem p{.http_status = c.http, .type = c.type, .title = "t", .detail = ""};
    EXPECT_EQ(CodeForProblem(p), c.code) << c.http << " " << c.type;
  }
}

TEST(ProblemTest, NonJsonBodyIsNeverEchoed) {
  Problem p = ParseProblem(502, "text/html", "<html>secret-ish proxy page</html>");
  EXPECT_EQ(p.title, "Bad gateway");
  EXPECT_TRUE(p.detail.empty());
  Status s = ProblemStatus(p);
  EXPECT_EQ(s.message().find("proxy page"), std::string::npos);
  EXPECT_EQ(HttpStatusOf(s), 502);
}

TEST(ProblemTest, StatusesNotFromAnAnswerHaveNoHttpStatus) {
  Status s = UnavailableError("cannot reach the Coffer server at http://x: refused");
  EXPECT_EQ(HttpStatusOf(s), 0);
  EXPECT_EQ(DetailOf(s), s.message());
}

TEST(PercentEncodeTest, KeepsUnreservedAndOptionallySlashes) {
  EXPECT_EQ(PercentEncode("api-keys/open_ai~1", true), "api-keys/open_ai~1");
  EXPECT_EQ(PercentEncode("api-keys/openai", false), "api-keys%2Fopenai");
  EXPECT_EQ(PercentEncode("a b/../c?d#e", true), "a%20b/%2E%2E/c%3Fd%23e");
}

TEST(GrowingSecretBufferTest, AppendsAcrossGrowth) {
  GrowingSecretBuffer b;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    const std::string part = std::to_string(i) + ",";
    b.Append(part.data(), part.size());
    expected += part;
  }
  EXPECT_EQ(b.view(), expected);
  b.Clear();
  EXPECT_EQ(b.size(), 0u);
}

TEST(WipedJsonTest, ParsesAndSerializes) {
  auto doc = WipedJson::Parse(R"({"value":"s3cret","n":1})");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->Serialize().view(), R"({"value":"s3cret","n":1})");
  auto bad = WipedJson::Parse("{not json s3cret");
  EXPECT_THAT(bad, StatusIs(_, Not(HasSubstr("s3cret"))));
}

}  // namespace
}  // namespace coffer::client
