// Tests for HttpServer over real sockets on 127.0.0.1: keep-alive round trips, problem+json
// errors, size limits, framing (Transfer-Encoding, trailers), timeouts (idle, first request and
// slowloris), connection limits, handler failures, graceful shutdown (also under load, and with
// before_send continuations outliving the server) and many concurrent clients. The client is
// plain POSIX sockets with receive timeouts, so a server bug fails a test instead of hanging it;
// Beast's parser only decodes the responses.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/non_blocking.h"
#include "http/problem_json.h"

namespace coffer::http {
namespace {

namespace bhttp = boost::beast::http;
using std::chrono::milliseconds;
using WireResponse = bhttp::response<bhttp::string_body>;

// Polls `done` until it holds or `limit` passes; returns whether it held.
bool Eventually(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

// A blocking client socket whose reads give up after `timeout`.
class TestClient {
 public:
  explicit TestClient(uint16_t port, milliseconds timeout = milliseconds(3000)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    connect_errno_ = connected_ ? 0 : errno;
    SetTimeout(timeout);
  }
  ~TestClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }

  void SetTimeout(milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  // Returns false once the peer has closed (writes then fail).
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads one response; nullopt if the connection closed or timed out first.
  std::optional<WireResponse> ReadResponse() {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 << 20);
    while (!parser.is_done()) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec && ec != bhttp::error::need_more) {
          return std::nullopt;
        }
        if (parser.is_done()) {
          break;
        }
        if (used > 0 && !ec) {
          continue;
        }
      }
      char buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        return std::nullopt;
      }
      pending_.append(buf, static_cast<size_t>(n));
    }
    return parser.release();
  }

  std::optional<WireResponse> Request(std::string_view method, std::string_view target,
                                      std::string_view body = "",
                                      std::string_view extra_headers = "") {
    std::string raw = std::string(method) + " " + std::string(target) +
                      " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers);
    if (!body.empty()) {
      raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    raw += "\r\n";
    raw += body;
    if (!Send(raw)) {
      return std::nullopt;
    }
    return ReadResponse();
  }

  // True if the server closes the connection (EOF or reset) before the read timeout; bytes that
  // arrive meanwhile are collected in `received`. A connection the server resets as soon as it
  // accepts it may be reset before connect() returns, which then fails with ECONNRESET.
  bool WaitForClose(std::string* received = nullptr) {
    if (received != nullptr) {
      *received = pending_;
    }
    if (!connected_) {
      return connect_errno_ == ECONNRESET;
    }
    for (;;) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) {
        return true;
      }
      if (n < 0) {
        return errno == ECONNRESET;
      }
      if (received != nullptr) {
        received->append(buf, static_cast<size_t>(n));
      }
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  std::string pending_;
};

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

Handler Text(std::string body) {
  return [body](const Request&, const RouteParams&) {
    Response r;
    r.content_type = "text/plain";
    r.body = body;
    return r;
  };
}

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    router_.Add("GET", "/v1/hello", Text("hello"));
    router_.Add("PUT", "/v1/hello", Text("put"));
    router_.Add("POST", "/v1/echo", [](const Request& req, const RouteParams&) {
      Response r;
      r.content_type = "text/plain";
      r.body = req.body;
      return r;
    });
    router_.Add("GET", "/v1/paths/{*path}", [](const Request& req, const RouteParams& params) {
      Response r;
      r.content_type = "text/plain";
      r.body = params.at("path") + "|" + std::string(req.Query("q").value_or("-"));
      return r;
    });
    router_.Add("GET", "/v1/whoami", [](const Request& req, const RouteParams&) {
      Response r;
      r.content_type = "text/plain";
      r.body = req.peer_ip + "|" + req.request_id + "|" +
               std::string(req.Header("x-test").value_or("-"));
      return r;
    });
    router_.Add("GET", "/v1/slow", [this](const Request&, const RouteParams&) {
      slow_started_ = true;
      ++slow_count_;
      std::this_thread::sleep_for(milliseconds(300));
      return Text("slow")(Request(), RouteParams());
    });
    router_.Add("GET", "/v1/throw", [](const Request&, const RouteParams&) -> Response {
      throw std::runtime_error("db password is hunter2");
    });
    router_.Add("GET", "/v1/store-fails", [](const Request&, const RouteParams&) {
      return ProblemFromStatus(InternalError("store: select: permission denied for table x"));
    });
    router_.Add("GET", "/v1/secret", [](const Request&, const RouteParams&) {
      Response r;
      r.body = R"({"value":"s3cr3t"})";
      r.sensitive = true;
      return r;
    });
    // Which of the headers a request's framing may try to smuggle in the handler sees.
    router_.Add("POST", "/v1/seen", [](const Request& req, const RouteParams&) {
      Response r;
      r.content_type = "text/plain";
      r.body = std::string("authorization=") + (req.Header("authorization") ? "yes" : "no") +
               "|content-type=" + std::string(req.Header("content-type").value_or("-")) +
               "|x-forwarded-for=" + std::string(req.Header("x-forwarded-for").value_or("-")) +
               "|body=" + req.body;
      return r;
    });
    router_.Add("DELETE", "/v1/thing", [](const Request&, const RouteParams&) {
      Response r;
      r.status = 204;
      r.content_type.clear();
      return r;
    });
  }

  ~ServerTest() override { Stop(); }

  ServerOptions DefaultOptions() {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.io_threads = 2;
    options.worker_threads = 4;
    options.read_timeout = milliseconds(2000);
    options.idle_timeout = milliseconds(2000);
    options.first_request_timeout = milliseconds(2000);
    options.write_timeout = milliseconds(2000);
    options.shutdown_grace = milliseconds(2000);
    options.handle_signals = false;
    return options;
  }

  void Start() { Start(DefaultOptions()); }
  void Start(const ServerOptions& options) {
    auto server = HttpServer::Create(options, router_, [this](const RequestLogEntry& e) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(std::string(e.request->method) + " " + std::string(e.route_template) + " " +
                     std::to_string(e.status) +
                     (e.internal_cause.empty() ? "" : " " + std::string(e.internal_cause)));
    });
    ASSERT_TRUE(server.has_value()) << server.error();
    server_ = std::move(*server);
    ASSERT_NE(server_->port(), 0);
    run_thread_ = std::thread([this] { run_status_ = server_->Run(); });
  }

  void Stop() {
    if (run_thread_.joinable()) {
      server_->Shutdown();
      run_thread_.join();
      EXPECT_TRUE(run_status_.ok()) << run_status_;
    }
  }

  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_;
  }

  uint16_t port() const { return server_->port(); }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::thread run_thread_;
  Status run_status_;
  std::atomic<bool> slow_started_{false};
  std::atomic<int> slow_count_{0};
  std::mutex log_mu_;
  std::vector<std::string> log_;  // guarded by log_mu_
};

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

// before_send: the server waits for the continuation, which comes from another thread later,
// and sends the response only if it is OK.
class BeforeSendTest : public ServerTest {
 protected:
  BeforeSendTest() {
    router_.Add("GET", "/v1/gated/{outcome}",
                [this](const Request& req, const RouteParams& params) {
                  Response r;
                  r.body = R"({"value":"gated-s3cr3t"})";
                  r.sensitive = true;
                  r.actor_id = "actor-1";
                  honoured_ = req.before_send_honoured;
                  const bool ok = params.at("outcome") == "ok";
                  r.before_send = [this, ok](std::function<void(Status)> then) {
                    // Answered from a thread of its own, after the handler has long returned.
                    std::lock_guard<std::mutex> lock(threads_mu_);
                    threads_.emplace_back([ok, then = std::move(then)] {
                      std::this_thread::sleep_for(milliseconds(50));
                      then(ok ? OkStatus() : UnavailableError("the audit log cannot be written"));
                    });
                  };
                  return r;
                });
    // The continuation is kept for the test to call (or not) when it likes.
    router_.Add("GET", "/v1/held", [this](const Request&, const RouteParams&) {
      Response r;
      r.content_type = "text/plain";
      r.body = "held";
      r.before_send = [this](std::function<void(Status)> then) {
        std::lock_guard<std::mutex> lock(threads_mu_);
        held_.push_back(std::move(then));
      };
      return r;
    });
    router_.Add("GET", "/v1/busy", [this](const Request&, const RouteParams&) {
      ++busy_started_;
      std::this_thread::sleep_for(milliseconds(20));
      return Text("busy")(Request(), RouteParams());
    });
  }
  ~BeforeSendTest() override {
    Stop();
    JoinContinuations();
  }

  void JoinContinuations() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(threads_mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) {
      t.join();
    }
  }

  size_t HeldCount() {
    std::lock_guard<std::mutex> lock(threads_mu_);
    return held_.size();
  }

  std::atomic<bool> honoured_{false};
  std::atomic<int> busy_started_{0};
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;               // guarded by threads_mu_
  std::vector<std::function<void(Status)>> held_;  // guarded by threads_mu_
};

TEST_F(BeforeSendTest, AnOkContinuationSendsTheResponse) {
  Start();
  TestClient client(port());
  const auto started = std::chrono::steady_clock::now();
  auto r = client.Request("GET", "/v1/gated/ok");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(honoured_.load());
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(50));
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), R"({"value":"gated-s3cr3t"})");
}

TEST_F(BeforeSendTest, AFailedContinuationSendsItsProblemAndNothingOfTheBody) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/gated/fail");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 503);
  EXPECT_EQ(r->body().find("gated-s3cr3t"), std::string::npos);
  EXPECT_EQ((*r)[bhttp::field::content_type], "application/problem+json");
  // The connection goes on.
  auto next = client.Request("GET", "/v1/gated/ok");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->result_int(), 200);
}

TEST_F(BeforeSendTest, ManyGatedRequestsAtOnceAllComplete) {
  Start();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&] {
      TestClient client(port());
      for (int j = 0; j < 5; ++j) {
        auto r = client.Request("GET", "/v1/gated/ok");
        ok += r.has_value() && r->result_int() == 200 ? 1 : 0;
      }
    });
  }
  for (std::thread& t : clients) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 80);
}

TEST_F(BeforeSendTest, TheServerWaitsForContinuationsStillToComeBeforeItGoes) {
  Start();
  std::thread client([this] {
    TestClient c(port());
    (void)c.Request("GET", "/v1/gated/ok");
  });
  // Shut down while the request waits for its continuation: the server must not be destroyed
  // under it (the continuation posts to the server's I/O context).
  std::this_thread::sleep_for(milliseconds(20));
  Stop();
  server_.reset();
  client.join();
}

// The shutdown grace gave up on a request still waiting for its continuation; the continuation
// comes after Run() returned, and its caller keeps it (as an audit writer may) until after the
// server is gone. The server's io_context, and the strands it owns, are gone then: the kept
// continuation must hold nothing of them. (It held the coroutine's completion handler, whose
// frame keeps the connection's strand and socket: destroying it there touched the destroyed
// strand service, the use after free AddressSanitizer reports.)
TEST_F(BeforeSendTest, AContinuationKeptPastTheServersEndHoldsNothingOfIt) {
  ServerOptions options = DefaultOptions();
  options.shutdown_grace = milliseconds(30);
  Start(options);
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/held HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(Eventually([this] { return HeldCount() == 1; }));
  server_->Shutdown();
  run_thread_.join();  // the grace ran out with the request still waiting
  EXPECT_TRUE(run_status_.ok());
  std::function<void(Status)> then;
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    then = held_.front();  // a copy: the one in held_ is kept as well
  }
  then(OkStatus());  // too late to be sent: the I/O threads are gone
  server_.reset();
  then = nullptr;
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    held_.clear();
  }
  std::string received;
  EXPECT_TRUE(client.WaitForClose(&received));
  EXPECT_TRUE(received.empty()) << received;
}

// Stopping a server with every kind of connection at once — idle keep-alive ones, requests whose
// handler is still running, requests waiting for their continuation — and destroying it, many
// times over: each round either drains (a grace long enough) or gives up (a grace too short),
// and every client gets its answer or a closed connection, never a hang.
TEST_F(BeforeSendTest, StoppingUnderLoadManyTimesInARow) {
  constexpr int kRounds = 16;
  constexpr int kEach = 3;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const bool drains = round % 2 == 0;
    ServerOptions options = DefaultOptions();
    options.shutdown_grace = drains ? milliseconds(5000) : milliseconds(5);
    busy_started_ = 0;
    Start(options);

    std::vector<std::unique_ptr<TestClient>> idle;
    for (int i = 0; i < kEach; ++i) {
      idle.push_back(std::make_unique<TestClient>(port()));
      ASSERT_TRUE(idle.back()->Request("GET", "/v1/hello").has_value());
    }
    std::atomic<int> answered{0};
    std::atomic<int> closed{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 2 * kEach; ++i) {
      const char* target = i % 2 == 0 ? "/v1/gated/ok" : "/v1/busy";
      clients.emplace_back([&, target] {
        TestClient c(port());
        auto r = c.Request("GET", target);
        if (r.has_value()) {
          answered += r->result_int() == 200 ? 1 : 0;
        } else {
          ++closed;
        }
      });
    }
    ASSERT_TRUE(Eventually([&] { return busy_started_.load() == kEach; }));
    ASSERT_TRUE(Eventually([&] {
      std::lock_guard<std::mutex> lock(threads_mu_);
      return threads_.size() == kEach;  // every gated request is waiting for its continuation
    }));

    server_->Shutdown();
    run_thread_.join();
    EXPECT_TRUE(run_status_.ok());
    server_.reset();  // waits for the continuations still to come
    JoinContinuations();
    for (std::thread& t : clients) {
      t.join();
    }
    for (auto& c : idle) {
      EXPECT_TRUE(c->WaitForClose());
    }
    EXPECT_EQ(answered.load() + closed.load(), 2 * kEach);
    if (drains) {
      EXPECT_EQ(answered.load(), 2 * kEach);  // a drain answers everything in flight
    }
  }
}

// Routes marked io_thread: tried on the I/O thread inside a NonBlockingScope, and run again on
// the worker pool when that attempt refused to wait.
class IoThreadRouteTest : public ServerTest {
 protected:
  IoThreadRouteTest() {
    router_.Add(
        "GET", "/v1/quick",
        [this](const Request&, const RouteParams&) {
          ++quick_calls_;
          Response r;
          r.content_type = "text/plain";
          r.body = NonBlockingScope::MustNotBlock() ? "io" : "worker";
          return r;
        },
        RouteOptions{.io_thread = true});
    router_.Add(
        "GET", "/v1/waits",
        [this](const Request&, const RouteParams&) {
          ++wait_calls_;
          Response r;
          r.content_type = "text/plain";
          r.sensitive = true;
          if (NonBlockingScope::MustNotBlock()) {
            NonBlockingScope::NoteRefused();  // as the store's writer does
            r.status = 503;
            r.body = "first attempt";
            return r;
          }
          r.body = "second attempt";
          return r;
        },
        RouteOptions{.io_thread = true});
  }
  std::atomic<int> quick_calls_{0};
  std::atomic<int> wait_calls_{0};
};

TEST_F(IoThreadRouteTest, AQuickRouteIsAnsweredOnTheIoThreadOnce) {
  ServerOptions options = DefaultOptions();
  options.io_thread_routes = true;
  Start(options);
  TestClient client(port());
  auto r = client.Request("GET", "/v1/quick");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "io");
  EXPECT_EQ(quick_calls_.load(), 1);
}

TEST_F(IoThreadRouteTest, ARouteThatWouldWaitRunsAgainOnTheWorkerPool) {
  ServerOptions options = DefaultOptions();
  options.io_thread_routes = true;
  Start(options);
  TestClient client(port());
  auto r = client.Request("GET", "/v1/waits");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), "second attempt");
  EXPECT_EQ(wait_calls_.load(), 2);
}

TEST_F(IoThreadRouteTest, WithoutTheOptionEveryRouteRunsOnTheWorkerPool) {
  Start();
  TestClient client(port());
  auto r = client.Request("GET", "/v1/quick");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "worker");
  auto w = client.Request("GET", "/v1/waits");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->body(), "second attempt");
  EXPECT_EQ(wait_calls_.load(), 1);
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

TEST_F(ServerTest, IdleConnectionIsClosed) {
  ServerOptions options = DefaultOptions();
  options.idle_timeout = milliseconds(200);
  Start(options);
  TestClient client(port());
  auto r = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(r.has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.WaitForClose());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(150));

  TestClient silent(port());
  EXPECT_TRUE(silent.WaitForClose());
}

// A connection that sends nothing, or half a header, is closed after first_request_timeout;
// one that made its first request in time then waits the (longer) idle timeout.
TEST_F(ServerTest, FirstRequestMustArriveWithinTheFirstRequestTimeout) {
  ServerOptions options = DefaultOptions();
  options.first_request_timeout = milliseconds(500);
  options.idle_timeout = milliseconds(5000);
  options.read_timeout = milliseconds(5000);
  Start(options);
  const auto start = std::chrono::steady_clock::now();
  TestClient silent(port(), milliseconds(4000));
  TestClient half(port(), milliseconds(4000));
  TestClient prompt(port(), milliseconds(4000));
  ASSERT_TRUE(half.Send("GET /v1/hello HTTP/1.1\r\nHost: t\r\n"));
  ASSERT_TRUE(prompt.Request("GET", "/v1/hello").has_value());
  EXPECT_TRUE(silent.WaitForClose());
  EXPECT_TRUE(half.WaitForClose());
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, milliseconds(450));
  EXPECT_LT(waited, milliseconds(3000));  // well before the idle and read timeouts
  // The prompt connection outlived the first request timeout and still serves.
  auto again = prompt.Request("GET", "/v1/hello");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body(), "hello");
}

TEST_F(ServerTest, ConnectionsOverThePerAddressLimitAreClosedAtOnce) {
  ServerOptions options = DefaultOptions();
  options.max_connections_per_address = 3;
  Start(options);
  std::vector<std::unique_ptr<TestClient>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<TestClient>(port()));
    ASSERT_TRUE(open.back()->Request("GET", "/v1/hello").has_value());
  }
  const auto start = std::chrono::steady_clock::now();
  TestClient excess(port());
  EXPECT_TRUE(excess.WaitForClose());
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));  // not a timeout
  EXPECT_EQ(server_->refused_connections(), 1u);
  // The open ones are untouched, and a closed one frees its place.
  ASSERT_TRUE(open[0]->Request("GET", "/v1/hello").has_value());
  open.pop_back();
  ASSERT_TRUE(Eventually([&] { return server_->active_connections() == 2; }));
  TestClient next(port());
  auto r = next.Request("GET", "/v1/hello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "hello");
}

TEST_F(ServerTest, AtTheTotalLimitTheLongestIdleConnectionMakesRoom) {
  ServerOptions options = DefaultOptions();
  options.max_connections = 3;
  options.max_connections_per_address = 0;
  Start(options);
  EXPECT_EQ(server_->max_connections(), 3u);
  std::vector<std::unique_ptr<TestClient>> open;
  for (size_t i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<TestClient>(port()));
    ASSERT_TRUE(open.back()->Request("GET", "/v1/hello").has_value());
    // The client has the response a moment before the server waits for the next request.
    ASSERT_TRUE(Eventually([&] { return server_->idle_connections() == i + 1; }));
  }
  // The one idle the longest goes, although it was not the first accepted.
  ASSERT_TRUE(open[0]->Request("GET", "/v1/hello").has_value());
  ASSERT_TRUE(Eventually([&] { return server_->idle_connections() == 3; }));
  TestClient newcomer(port());
  auto r = newcomer.Request("GET", "/v1/hello");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "hello");
  EXPECT_TRUE(open[1]->WaitForClose());
  EXPECT_EQ(server_->evicted_connections(), 1u);
  EXPECT_EQ(server_->refused_connections(), 0u);
  ASSERT_TRUE(open[0]->Request("GET", "/v1/hello").has_value());
  ASSERT_TRUE(open[2]->Request("GET", "/v1/hello").has_value());
}

TEST_F(ServerTest, AtTheTotalLimitWithNoConnectionIdleANewOneIsClosed) {
  ServerOptions options = DefaultOptions();
  options.max_connections = 2;
  Start(options);
  std::vector<std::optional<WireResponse>> slow(2);
  std::vector<std::thread> busy;
  for (int i = 0; i < 2; ++i) {
    busy.emplace_back([&, i] {
      TestClient c(port());
      slow[i] = c.Request("GET", "/v1/slow");
    });
  }
  ASSERT_TRUE(Eventually([&] { return slow_count_.load() == 2; }));
  TestClient excess(port());
  EXPECT_TRUE(excess.WaitForClose());
  EXPECT_EQ(server_->refused_connections(), 1u);
  for (std::thread& t : busy) {
    t.join();
  }
  for (const auto& r : slow) {
    ASSERT_TRUE(r.has_value());  // the busy ones were not touched
    EXPECT_EQ(r->body(), "slow");
  }
}

TEST_F(ServerTest, TheTotalLimitStaysBelowTheOpenFileLimit) {
  rlimit files{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  ServerOptions options = DefaultOptions();
  options.max_connections = 0;
  Start(options);
  EXPECT_GT(server_->max_connections(), 0u);
  if (files.rlim_cur != RLIM_INFINITY) {
    EXPECT_LE(server_->max_connections() + 64, files.rlim_cur);
  }
}

TEST_F(ServerTest, SlowlorisIsCutOffByReadTimeout) {
  ServerOptions options = DefaultOptions();
  options.read_timeout = milliseconds(300);
  Start(options);
  TestClient client(port());
  const std::string request = "GET /v1/hello HTTP/1.1\r\nHost: t\r\n\r\n";
  // 1 byte per 100 ms: after 300 ms the server has given up on this request.
  for (size_t i = 0; i < 6; ++i) {
    client.Send(request.substr(i, 1));
    std::this_thread::sleep_for(milliseconds(100));
  }
  client.Send(request.substr(6));
  std::string received;
  EXPECT_TRUE(client.WaitForClose(&received));
  EXPECT_EQ(received.find("200"), std::string::npos) << received;
}

TEST_F(ServerTest, GracefulShutdownFinishesInFlightRequest) {
  Start();
  TestClient idle(port());
  ASSERT_TRUE(idle.Request("GET", "/v1/hello").has_value());  // now waiting for a request

  TestClient busy(port());
  std::optional<WireResponse> slow;
  std::thread client_thread([&] { slow = busy.Request("GET", "/v1/slow"); });
  while (!slow_started_) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  server_->Shutdown();
  server_->Shutdown();  // idempotent

  // The idle connection is closed at once; the busy one gets its answer, then is closed.
  EXPECT_TRUE(idle.WaitForClose());
  client_thread.join();
  ASSERT_TRUE(slow.has_value());
  EXPECT_EQ(slow->result_int(), 200);
  EXPECT_EQ(slow->body(), "slow");
  EXPECT_FALSE(slow->keep_alive());
  EXPECT_TRUE(busy.WaitForClose());

  const auto start = std::chrono::steady_clock::now();
  run_thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
  EXPECT_TRUE(run_status_.ok());

  TestClient late(port());
  EXPECT_FALSE(late.connected());
}

TEST_F(ServerTest, ShutdownGraceBoundsTheWait) {
  ServerOptions options = DefaultOptions();
  options.shutdown_grace = milliseconds(50);
  Start(options);
  TestClient busy(port());
  ASSERT_TRUE(busy.Send("GET /v1/slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  while (!slow_started_) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  server_->Shutdown();
  run_thread_.join();  // the grace ran out before the handler finished
  EXPECT_TRUE(run_status_.ok());
  server_.reset();  // drops the connection that never got its answer
  std::string received;
  EXPECT_TRUE(busy.WaitForClose(&received));
  EXPECT_TRUE(received.empty()) << received;
}

TEST_F(ServerTest, SigtermTriggersGracefulShutdown) {
  ServerOptions options = DefaultOptions();
  options.handle_signals = true;
  Start(options);
  TestClient client(port());
  ASSERT_TRUE(client.Request("GET", "/v1/hello").has_value());
  ASSERT_EQ(std::raise(SIGTERM), 0);
  run_thread_.join();
  EXPECT_TRUE(run_status_.ok());
  EXPECT_TRUE(client.WaitForClose());
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

TEST_F(ServerTest, ShutdownWithNoConnectionsReturnsPromptly) {
  Start();
  const auto start = std::chrono::steady_clock::now();
  Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST_F(ServerTest, ManyConcurrentClientsAllSucceed) {
  Start();
  constexpr int kClients = 64;
  constexpr int kRequestsEach = 4;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(port());
      for (int i = 0; i < kRequestsEach; ++i) {
        const std::string body = "client-" + std::to_string(c) + "-" + std::to_string(i);
        auto r = client.Request("POST", "/v1/echo", body);
        if (r.has_value() && r->result_int() == 200 && r->body() == body) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), kClients * kRequestsEach);
}

TEST(ServerCreateTest, PortInUseIsUnavailable) {
  Router router;
  ServerOptions options;
  options.port = 0;
  options.handle_signals = false;
  auto first = HttpServer::Create(options, router);
  ASSERT_TRUE(first.has_value());
  options.port = (*first)->port();
  auto second = HttpServer::Create(options, router);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace coffer::http
