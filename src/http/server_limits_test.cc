// Tests for HttpServer's limits on connections: idle, first request and read (slowloris)
// timeouts, the per-address and total connection limits, and room made by the idlest connection.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/server_test_fixture.h"

namespace coffer::http {
namespace {

using std::chrono::milliseconds;

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
  EXPECT_TRUE(slow_gate_.AwaitArrivals(2));
  TestClient excess(port());
  EXPECT_TRUE(excess.WaitForClose());
  EXPECT_EQ(server_->refused_connections(), 1u);
  slow_gate_.Open();
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

// The read timeout is an Asio timer, on the steady clock: this takes real time, though nothing
// sleeps.
TEST_F(ServerTest, SlowlorisIsCutOffByReadTimeout) {
  ServerOptions options = DefaultOptions();
  options.read_timeout = milliseconds(300);
  Start(options);
  TestClient client(port());
  const std::string request = "GET /v1/hello HTTP/1.1\r\nHost: t\r\n\r\n";
  // A byte whenever the server has kept the connection open another 100 ms: however steadily
  // the bytes come, the request is cut off 300 ms after it began.
  client.SetTimeout(milliseconds(100));
  std::string received;
  bool closed = false;
  size_t sent = 0;
  while (!closed && sent + 1 < request.size()) {
    if (!client.Send(request.substr(sent++, 1))) {
      closed = true;  // the server hung up
      break;
    }
    std::string more;
    closed = client.WaitForClose(&more);
    received += more;
  }
  EXPECT_TRUE(closed) << "the server waited for the whole request";
  EXPECT_EQ(received.find("200"), std::string::npos) << received;
}

}  // namespace
}  // namespace coffer::http
