// What the HttpServer tests share: ServerTest runs a server with a set of routes on 127.0.0.1:0;
// TestClient is plain POSIX sockets with receive timeouts, so a server bug fails a test instead of
// hanging it (Beast's parser only decodes the responses); Gate holds handlers until the test lets
// them go; Eventually polls for a condition another thread brings about.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "http/problem_json.h"
#include "http/server.h"

namespace coffer::http {

using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Polls `done` until it holds or `limit` passes; returns whether it held.
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Where handlers wait until the test opens it; the test learns that they have arrived without
// sleeping. The limits on waiting are a test's failure, not time it lets pass. Thread-safe.
class Gate {
 public:
  // Counts the caller as arrived, then blocks until Open().
  void Pass() {
    MutexLock lock(mu_);
    ++arrived_;
    cv_.NotifyAll();
    while (!open_) {
      cv_.Wait(mu_);
    }
  }
  // Whether `n` callers have arrived (within 10 s).
  bool AwaitArrivals(int n) {
    MutexLock lock(mu_);
    return cv_.WaitFor(mu_, std::chrono::seconds(10),
                       [&]() COFFER_REQUIRES(mu_) { return arrived_ >= n; });
  }
  void Open() {
    {
      MutexLock lock(mu_);
      open_ = true;
    }
    cv_.NotifyAll();
  }
  // Closed again, with no one arrived. REQUIRES: no one is passing.
  void Reset() {
    MutexLock lock(mu_);
    open_ = false;
    arrived_ = 0;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int arrived_ COFFER_GUARDED_BY(mu_) = 0;
  bool open_ COFFER_GUARDED_BY(mu_) = false;
};

// A blocking client socket whose reads give up after `timeout`.
class TestClient {
 public:
  explicit TestClient(uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
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

  void SetTimeout(std::chrono::milliseconds timeout) {
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
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 << 20);
    while (!parser.is_done()) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec && ec != boost::beast::http::error::need_more) {
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

  // Reads until `marker` has arrived and returns what came up to and including it (the rest
  // stays pending); nullopt if the connection closed or the read timed out first.
  std::optional<std::string> ReadUntil(std::string_view marker) {
    for (;;) {
      const size_t at = pending_.find(marker);
      if (at != std::string::npos) {
        std::string out = pending_.substr(0, at + marker.size());
        pending_.erase(0, at + marker.size());
        return out;
      }
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        return std::nullopt;
      }
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

  // True if the server resets the connection (rather than closing it in order) before the read
  // timeout; bytes that arrive meanwhile are discarded.
  bool WaitForReset() {
    for (;;) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) {
        return false;
      }
      if (n < 0) {
        return errno == ECONNRESET;
      }
    }
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

// A handler that answers 200 with `body` as text/plain.
inline Handler Text(std::string body) {
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
    // Answers once the test opens slow_gate_.
    router_.Add("GET", "/v1/slow", [this](const Request&, const RouteParams&) {
      slow_gate_.Pass();
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

  ~ServerTest() override {
    slow_gate_.Open();
    Stop();
  }

  ServerOptions DefaultOptions() {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.io_threads = 2;
    options.worker_threads = 4;
    options.read_timeout = std::chrono::milliseconds(2000);
    options.idle_timeout = std::chrono::milliseconds(2000);
    options.first_request_timeout = std::chrono::milliseconds(2000);
    options.write_timeout = std::chrono::milliseconds(2000);
    options.shutdown_grace = std::chrono::milliseconds(2000);
    options.handle_signals = false;
    return options;
  }

  void Start() { Start(DefaultOptions()); }
  void Start(const ServerOptions& options) {
    auto server = HttpServer::Create(options, router_, [this](const RequestLogEntry& e) {
      MutexLock lock(log_mu_);
      durations_.push_back(e.duration);
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
    MutexLock lock(log_mu_);
    return log_;
  }
  std::vector<std::chrono::microseconds> Durations() {
    MutexLock lock(log_mu_);
    return durations_;
  }

  uint16_t port() const { return server_->port(); }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::thread run_thread_;
  Status run_status_;
  Gate slow_gate_;
  Mutex log_mu_;
  std::vector<std::string> log_ COFFER_GUARDED_BY(log_mu_);
  std::vector<std::chrono::microseconds> durations_ COFFER_GUARDED_BY(log_mu_);
};

}  // namespace coffer::http
