// Tests for HttpServer over real sockets on 127.0.0.1: keep-alive round trips, problem+json
// errors, size limits, timeouts (idle and slowloris), handler failures, graceful shutdown and
// many concurrent clients. The client is plain POSIX sockets with receive timeouts, so a server
// bug fails a test instead of hanging it; Beast's parser only decodes the responses.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
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
  // arrive meanwhile are collected in `received`.
  bool WaitForClose(std::string* received = nullptr) {
    if (received != nullptr) {
      *received = pending_;
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
    router_.Add("GET", "/v1/gated/{outcome}", [this](const Request& req,
                                                     const RouteParams& params) {
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
  }
  ~BeforeSendTest() override {
    Stop();
    std::lock_guard<std::mutex> lock(threads_mu_);
    for (std::thread& t : threads_) {
      t.join();
    }
  }

  std::atomic<bool> honoured_{false};
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;  // guarded by threads_mu_
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
