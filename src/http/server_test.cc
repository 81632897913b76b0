// Tests for HttpServer over real sockets on 127.0.0.1: keep-alive round trips and pipelining,
// the server's headers, problem+json errors, size limits, framing (Transfer-Encoding, trailers),
// handler failures, and what the request observer is told.
#include "http/server.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "common/monotonic_clock.h"
#include "common/random.h"
#include "common/status_matchers.h"
#include "http/server_test_fixture.h"

namespace coffer::http {
namespace {

namespace bhttp = boost::beast::http;

boost::json::object ProblemBody(const WireResponse& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body(), ec);
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << r.body();
    return {};
  }
  return v.as_object();
}

std::string JsonString(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "<missing>";
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.connected());
  auto first = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->result_int(), 200);
  EXPECT_EQ(first->body(), "hello");
  EXPECT_TRUE(first->keep_alive());
  auto second = client.Request("POST", "/v1/echo", "ping");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->result_int(), 200);
  EXPECT_EQ(second->body(), "ping");
}

TEST_F(ServerTest, SetsSecurityAndFramingHeaders) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)[bhttp::field::content_type], "text/plain");
  EXPECT_EQ((*r)[bhttp::field::content_length], "5");
  EXPECT_EQ((*r)[bhttp::field::cache_control], "no-store");
  EXPECT_EQ((*r)["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ((*r)[bhttp::field::server], "coffer");
  std::string id((*r)["X-Request-Id"]);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
}

TEST_F(ServerTest, NoContentHasNoBodyOrLength) {
  Start();
  TestClient client(port());
  auto r = client.Request("DELETE", "/v1/thing");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 204);
  EXPECT_EQ(r->find(bhttp::field::content_length), r->end());
  // The connection stays usable.
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "hello");
}

TEST_F(ServerTest, RequestIdIsHonoredWhenWellFormed) {
  Start();
  TestClient client(port());
  auto r =
      client.Request("GET", "/v1/whoami", "", "X-Request-Id: trace-abc.123_X\r\nX-Test: 1\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "127.0.0.1|trace-abc.123_X|1");
  EXPECT_EQ((*r)["X-Request-Id"], "trace-abc.123_X");

  auto bad = client.Request("GET", "/v1/whoami", "", "X-Request-Id: has space\"<script>\r\n");
  ASSERT_TRUE(bad.has_value());
  std::string id((*bad)["X-Request-Id"]);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(bad->body(), "127.0.0.1|" + id + "|-");
}

TEST_F(ServerTest, PathSegmentsAndQueryArePercentDecoded) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/paths/api-keys%2Fopenai/x?q=a%2Fb+c");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), "api-keys/openai/x|a/b c");
}

TEST_F(ServerTest, UnknownRouteIsProblem404) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/nope");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 404);
  EXPECT_EQ((*r)[bhttp::field::content_type], "application/problem+json");
  auto body = ProblemBody(*r);
  EXPECT_EQ(JsonString(body, "type"), "urn:coffer:problem:not-found");
  EXPECT_EQ(JsonString(body, "detail"), "no route for GET");
  // An error does not cost the connection.
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->result_int(), 200);
}

TEST_F(ServerTest, WrongMethodIsProblem405WithAllow) {
  Start();
  TestClient client(port());
  auto r = client.Request("DELETE", "/v1/hello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 405);
  EXPECT_EQ((*r)[bhttp::field::allow], "GET, PUT");
  EXPECT_EQ(JsonString(ProblemBody(*r), "type"), "urn:coffer:problem:method-not-allowed");
}

TEST_F(ServerTest, BadTargetsAreProblem400) {
  Start();
  for (std::string_view target : {"/v1/paths/a%00b", "/v1/paths/a%zzb", "/v1/hello?q=%00",
                                  "http://example.com/v1/hello", "/v1/paths/<script>"}) {
    SCOPED_TRACE(std::string(target));
    TestClient client(port());
    auto r = client.Request("GET", target);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 400);
    EXPECT_EQ((*r)[bhttp::field::content_type], "application/problem+json");
    EXPECT_EQ(JsonString(ProblemBody(*r), "type"), "urn:coffer:problem:bad-request");
  }
}

TEST_F(ServerTest, MalformedRequestIsProblem400AndCloses) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("THIS IS NOT HTTP\r\n\r\n"));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 400);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_EQ(JsonString(ProblemBody(*r), "type"), "urn:coffer:problem:bad-request");
  client.ShutdownWrite();
  EXPECT_TRUE(client.WaitForClose());
}

TEST_F(ServerTest, BodyOverLimitIs413AndCloses) {
  Start();
  TestClient client(port());
  const std::string body(2 << 20, 'x');
  auto r = client.Request("POST", "/v1/echo", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_EQ(JsonString(ProblemBody(*r), "detail"), "request body exceeds the 1048576-byte limit");
  client.ShutdownWrite();
  EXPECT_TRUE(client.WaitForClose());
  Stop();
  EXPECT_EQ(Log(), std::vector<std::string>{"POST  413"});
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  Start();
  TestClient client(port());
  std::string raw = "POST /v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(256 << 10, 'y');
  for (int i = 0; i < 8; ++i) {
    raw += "40000\r\n" + chunk + "\r\n";
  }
  raw += "0\r\n\r\n";
  client.Send(raw);
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413);
}

// Framing Coffer and a proxy in front of it could read differently (RFC 9112 §6): each is a 400
// problem and the connection closes, so the bytes after the header (here a pipelined GET) are
// never served as a request of their own.
TEST_F(ServerTest, AmbiguousFramingIs400AndCloses) {
  Start();
  const std::string chunked_body = "5\r\nhello\r\n0\r\n\r\n";
  const std::string smuggled = "GET /v1/hello HTTP/1.1\r\nHost: t\r\n\r\n";
  struct Case {
    std::string version;
    std::string fields;  // after Host, each ending in CRLF
    std::string detail;
  };
  const std::string not_chunked =
      "Transfer-Encoding must be \"chunked\" (no other transfer coding is supported)";
  const std::string beast_te =
      "Transfer-Encoding must be \"chunked\", once, and not with Content-Length";
  const std::vector<Case> cases = {
      {"1.1", "Transfer-Encoding: chunked, identity\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: identity\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: gzip\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: gzip, chunked\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: \"chunked\"\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: chunked, chunked\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: xchunked\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", not_chunked},
      {"1.1", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", beast_te},
      {"1.1", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", beast_te},
      {"1.1", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", beast_te},
      {"1.1", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
       "Content-Length must be one decimal number, and not with Transfer-Encoding"},
      {"1.1", "Transfer-Encoding: gzip\r\nContent-Length: 21\r\n",
       "a request must not have both Transfer-Encoding and Content-Length"},
      {"1.0", "Transfer-Encoding: chunked\r\n",
       "Transfer-Encoding is not allowed in an HTTP/1.0 request"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("HTTP/" + c.version + " " + c.fields);
    TestClient client(port());
    ASSERT_TRUE(client.Send("POST /v1/echo HTTP/" + c.version + "\r\nHost: t\r\n" + c.fields +
                            "\r\n" + chunked_body + smuggled));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 400);
    EXPECT_FALSE(r->keep_alive());
    EXPECT_EQ((*r)[bhttp::field::content_type], "application/problem+json");
    auto body = ProblemBody(*r);
    EXPECT_EQ(JsonString(body, "type"), "urn:coffer:problem:bad-request");
    EXPECT_EQ(JsonString(body, "detail"), c.detail);
    std::string after;
    EXPECT_TRUE(client.WaitForClose(&after));
    EXPECT_EQ(after, "");  // the smuggled GET got no answer
  }
  Stop();
  for (const std::string& line : Log()) {
    EXPECT_EQ(line, "POST  400");  // and never reached a handler
  }
}

TEST_F(ServerTest, ChunkedInAnyCaseWithWhitespaceIsRead) {
  Start();
  for (std::string_view value : {"chunked", "Chunked", "CHUNKED", " \tchunked\t ", ", chunked"}) {
    SCOPED_TRACE(std::string(value));
    TestClient client(port());
    ASSERT_TRUE(client.Send(
        "POST /v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + std::string(value) +
        "\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nGET /v1/hello HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_EQ(r->body(), "abcde");
    auto next = client.ReadResponse();  // the pipelined request after a well-framed body
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->body(), "hello");
  }
}

// Fields of a chunked trailer never act as request headers: not Authorization, not
// Content-Type, not X-Forwarded-For.
TEST_F(ServerTest, ChunkedTrailerFieldsAreNotHeaders) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(
      client.Send("POST /v1/seen HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                  "Authorization: Bearer trailer-token\r\nContent-Type: application/json\r\n"
                  "X-Forwarded-For: 10.9.8.7\r\n\r\n"));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), "authorization=no|content-type=text/plain|x-forwarded-for=-|body=hello");
  // The connection goes on.
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "hello");
}

TEST_F(ServerTest, BodyAtLimitIsAccepted) {
  Start();
  TestClient client(port());
  const std::string body(1 << 20, 'z');
  auto r = client.Request("POST", "/v1/echo", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body().size(), body.size());
}

TEST_F(ServerTest, HugeHeaderIs431) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/hello", "", "X-Big: " + std::string(32 << 10, 'h') + "\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 431);
  EXPECT_EQ(JsonString(ProblemBody(*r), "type"), "urn:coffer:problem:header-too-large");
  EXPECT_FALSE(r->keep_alive());
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send(
      "POST /v1/echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  auto interim = client.ReadResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100);
  ASSERT_TRUE(client.Send("body"));
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), "body");
}

TEST_F(ServerTest, ConnectionCloseAndHttp10AreHonored) {
  Start();
  {
    TestClient client(port());
    auto r = client.Request("GET", "/v1/hello", "", "Connection: close\r\n");
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->keep_alive());
    EXPECT_TRUE(client.WaitForClose());
  }
  {
    TestClient client(port());
    ASSERT_TRUE(client.Send("GET /v1/hello HTTP/1.0\r\n\r\n"));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->version(), 10u);
    EXPECT_EQ(r->body(), "hello");
    EXPECT_TRUE(client.WaitForClose());
  }
}

TEST_F(ServerTest, HandlerExceptionIsGeneric500) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/throw");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 500);
  EXPECT_EQ(r->body().find("hunter2"), std::string::npos);
  auto body = ProblemBody(*r);
  EXPECT_EQ(JsonString(body, "type"), "urn:coffer:problem:internal");
  EXPECT_EQ(JsonString(body, "detail"), "internal error");
  // The server survives.
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->result_int(), 200);
}

TEST_F(ServerTest, SensitiveResponseIsDelivered) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/secret");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), R"({"value":"s3cr3t"})");
  EXPECT_EQ((*r)[bhttp::field::cache_control], "no-store");
}

TEST_F(ServerTest, ObserverSeesRouteTemplateAndStatus) {
  Start();
  {
    TestClient client(port());
    ASSERT_TRUE(client.Request("GET", "/v1/paths/a/b").has_value());
    ASSERT_TRUE(client.Request("GET", "/v1/missing").has_value());
  }
  Stop();  // every observer call happens before Run() returns
  EXPECT_EQ(Log(), (std::vector<std::string>{"GET /v1/paths/{*path} 200", "GET  404"}));
}

TEST_F(ServerTest, ObserverGetsTheCauseOfA500ThatTheClientIsNotShown) {
  Start();
  {
    TestClient client(port());
    auto r = client.Request("GET", "/v1/store-fails");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 500);
    EXPECT_EQ(JsonString(ProblemBody(*r), "detail"), "internal error");
    ASSERT_TRUE(client.Request("GET", "/v1/throw").has_value());
  }
  Stop();
  // The exception's type, never its message (which may hold anything: here, a password).
  EXPECT_EQ(Log(), (std::vector<std::string>{
                       "GET /v1/store-fails 500 store: select: permission denied for table x",
                       "GET /v1/throw 500 the handler threw std::runtime_error"}));
}

// 16 hex digits: the next 8 bytes of `random`.
std::string NextRequestId(Random& random) {
  std::array<uint8_t, 8> bytes{};
  EXPECT_TRUE(random.Fill(bytes).ok());
  std::string id;
  for (const uint8_t b : bytes) {
    id += "0123456789abcdef"[b >> 4];
    id += "0123456789abcdef"[b & 0x0f];
  }
  return id;
}

TEST_F(ServerTest, DurationsAndRequestIdsComeFromTheClockAndRandomSourceItIsGiven) {
  FakeMonotonicClock clock;
  DeterministicRandom random(5);
  router_.Add("GET", "/v1/takes-1500us", [&clock](const Request&, const RouteParams&) {
    clock.Advance(std::chrono::microseconds(1500));
    return Text("done")(Request(), RouteParams());
  });
  ServerOptions options = DefaultOptions();
  options.clock = &clock;
  options.random = &random;
  Start(options);
  DeterministicRandom same(5);
  {
    TestClient client(port());
    for (int i = 0; i < 2; ++i) {
      auto r = client.Request("GET", "/v1/takes-1500us");
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ((*r)["X-Request-Id"], NextRequestId(same));
    }
    ASSERT_TRUE(client.Request("GET", "/v1/hello").has_value());
  }
  Stop();  // every observer call happens before Run() returns
  EXPECT_EQ(Durations(), (std::vector<std::chrono::microseconds>{std::chrono::microseconds(1500),
                                                                 std::chrono::microseconds(1500),
                                                                 std::chrono::microseconds(0)}));
  server_.reset();  // before the clock and the random source it was given
}

TEST(ServerCreateTest, AClockAndARandomSourceAreRequired) {
  Router router;
  ServerOptions options;
  options.port = 0;
  options.handle_signals = false;
  options.clock = nullptr;
  EXPECT_THAT(HttpServer::Create(options, router), StatusIs(StatusCode::kInvalidArgument));
  options.clock = &DefaultMonotonicClock();
  options.random = nullptr;
  EXPECT_THAT(HttpServer::Create(options, router), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(
      client.Send("GET /v1/hello HTTP/1.1\r\nHost: t\r\n\r\n"
                  "POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"));
  auto first = client.ReadResponse();
  auto second = client.ReadResponse();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->body(), "hello");
  EXPECT_EQ(second->body(), "abc");
}

}  // namespace
}  // namespace coffer::http
