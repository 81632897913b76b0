// Tests for HttpServer's life: graceful shutdown (in-flight requests, the grace period, SIGTERM),
// many concurrent clients, and Create refusing a port in use.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status_matchers.h"
#include "http/server.h"
#include "http/server_test_fixture.h"

namespace coffer::http {
namespace {

using std::chrono::milliseconds;

TEST_F(ServerTest, GracefulShutdownFinishesInFlightRequest) {
  Start();
  TestClient idle(port());
  ASSERT_TRUE(idle.Request("GET", "/v1/hello").has_value());  // now waiting for a request

  TestClient busy(port());
  std::optional<WireResponse> slow;
  std::thread client_thread([&] { slow = busy.Request("GET", "/v1/slow"); });
  EXPECT_TRUE(slow_gate_.AwaitArrivals(1));
  server_->Shutdown();
  server_->Shutdown();  // idempotent

  // The idle connection is closed at once; the busy one gets its answer, then is closed.
  EXPECT_TRUE(idle.WaitForClose());
  slow_gate_.Open();
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

// The grace is an Asio timer, on the steady clock: the handler must really outlast it.
TEST_F(ServerTest, ShutdownGraceBoundsTheWait) {
  Gate started;
  router_.Add("GET", "/v1/outlasts-grace", [&started](const Request&, const RouteParams&) {
    started.Open();
    std::this_thread::sleep_for(milliseconds(300));
    return Text("late")(Request(), RouteParams());
  });
  ServerOptions options = DefaultOptions();
  options.shutdown_grace = milliseconds(50);
  Start(options);
  TestClient busy(port());
  ASSERT_TRUE(busy.Send("GET /v1/outlasts-grace HTTP/1.1\r\nHost: t\r\n\r\n"));
  started.Pass();  // returns once the handler has begun
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
  EXPECT_THAT(second, StatusIs(StatusCode::kUnavailable));
}

}  // namespace
}  // namespace coffer::http
