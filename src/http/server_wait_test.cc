// Tests for deferred answers (long polls): a wake answers at once, the time limit answers 304, a
// wake before the wait is not lost, waiting holds no worker thread, a client that hangs up frees
// its wait, the bound on waiting requests, and shutdown ending the waits.
#include <gtest/gtest.h>

#include <atomic>
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

class WaitTest : public ServerTest {
 protected:
  WaitTest() {
    // Waits for `signal_` for ?ms= milliseconds (default 5000). `spurious_` wakes are answered
    // with nullopt (wait on) until it runs out; ?fire=1 fires before the handler returns.
    router_.Add("GET", "/v1/wait", [this](const Request& req, const RouteParams&) {
      auto deferred = std::make_shared<Deferred>();
      auto signal = std::make_shared<WakeSignal>();
      auto hold = std::make_shared<int>(0);
      {
        MutexLock lock(mu_);
        signals_.push_back(signal);
        held_ = hold;
      }
      deferred->wake = signal;
      const std::string ms(req.Query("ms").value_or("5000"));
      deferred->timeout = milliseconds(std::stoi(ms));
      deferred->hold = hold;
      deferred->resume = [this](bool woken) -> std::optional<Response> {
        ++resumes_;
        if (woken && spurious_.fetch_sub(1) > 0) {
          return std::nullopt;
        }
        if (!woken) {
          return std::nullopt;  // 304
        }
        Response r;
        r.content_type = "text/plain";
        r.body = "woken";
        return r;
      };
      if (req.Query("fire").has_value()) {
        signal->Fire();
      }
      Response r;
      r.deferred = std::move(deferred);
      return r;
    });
  }

  bool AwaitWaiting(size_t n) {
    return Eventually([&] { return server_->waiting_requests() == n; });
  }

  // Fires the signal of every request so far (each request has its own, as a real handler's).
  void Fire() {
    MutexLock lock(mu_);
    for (auto& signal : signals_) {
      signal->Fire();
    }
  }

  // Whether the last request's hold was released.
  bool HoldReleased() {
    MutexLock lock(mu_);
    return held_.expired();
  }

  Mutex mu_;
  std::vector<std::shared_ptr<WakeSignal>> signals_ COFFER_GUARDED_BY(mu_);
  std::weak_ptr<int> held_ COFFER_GUARDED_BY(mu_);
  std::atomic<int> resumes_{0};
  std::atomic<int> spurious_{0};
};

TEST_F(WaitTest, AWakeAnswersAtOnce) {
  Start();
  TestClient client(port());
  std::optional<WireResponse> answer;
  std::thread t([&] { answer = client.Request("GET", "/v1/wait"); });
  ASSERT_TRUE(AwaitWaiting(1));
  Fire();
  t.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 200);
  EXPECT_EQ(answer->body(), "woken");
  EXPECT_TRUE(answer->keep_alive());
  EXPECT_EQ(server_->waiting_requests(), 0u);
  EXPECT_TRUE(HoldReleased());  // the hold is released with the wait
  // The connection serves the next request.
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "hello");
}

TEST_F(WaitTest, TheTimeLimitAnswersNotModified) {
  Start();
  TestClient client(port());
  auto answer = client.Request("GET", "/v1/wait?ms=50");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 304);
  EXPECT_TRUE(answer->body().empty());
  EXPECT_EQ(resumes_.load(), 1);
}

TEST_F(WaitTest, AWakeBeforeTheWaitIsNotLost) {
  Start();
  TestClient client(port());
  auto answer = client.Request("GET", "/v1/wait?fire=1");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 200);
}

TEST_F(WaitTest, AWakeForNothingWaitsOn) {
  spurious_ = 1;
  Start();
  TestClient client(port());
  std::optional<WireResponse> answer;
  std::thread t([&] { answer = client.Request("GET", "/v1/wait"); });
  ASSERT_TRUE(AwaitWaiting(1));
  Fire();
  ASSERT_TRUE(Eventually([&] { return resumes_.load() == 1; }));
  EXPECT_EQ(server_->waiting_requests(), 1u);  // still waiting
  Fire();
  t.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 200);
  EXPECT_EQ(resumes_.load(), 2);
}

TEST_F(WaitTest, WaitingHoldsNoWorkerThread) {
  ServerOptions options = DefaultOptions();
  options.worker_threads = 2;
  Start(options);
  constexpr int kWaiters = 20;
  std::vector<std::unique_ptr<TestClient>> clients;
  std::vector<std::thread> threads;
  std::vector<std::optional<WireResponse>> answers(kWaiters);
  for (int i = 0; i < kWaiters; ++i) {
    clients.push_back(std::make_unique<TestClient>(port()));
  }
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] { answers[i] = clients[i]->Request("GET", "/v1/wait"); });
  }
  ASSERT_TRUE(AwaitWaiting(kWaiters));
  TestClient other(port());
  auto hello = other.Request("GET", "/v1/hello");
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->body(), "hello");
  Fire();
  for (auto& t : threads) {
    t.join();
  }
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->result_int(), 200);
  }
}

TEST_F(WaitTest, AClientThatHangsUpFreesItsWait) {
  Start();
  {
    TestClient client(port());
    ASSERT_TRUE(client.Send("GET /v1/wait HTTP/1.1\r\nHost: test\r\n\r\n"));
    ASSERT_TRUE(AwaitWaiting(1));
  }  // closed
  ASSERT_TRUE(AwaitWaiting(0));
  EXPECT_TRUE(Eventually([&] { return HoldReleased(); }));
  EXPECT_EQ(resumes_.load(), 0);  // nothing answered, nothing read
  ASSERT_TRUE(Eventually([&] { return server_->active_connections() == 0; }));
  EXPECT_TRUE(Eventually([&] {
    auto log = Log();
    return !log.empty() && log.back() == "GET /v1/wait 499";
  }));
}

TEST_F(WaitTest, BeyondTheBoundAWaitIsRefusedWithRetryAfter) {
  ServerOptions options = DefaultOptions();
  options.max_waiting_requests = 1;
  Start(options);
  TestClient first(port());
  std::optional<WireResponse> first_answer;
  std::thread t([&] { first_answer = first.Request("GET", "/v1/wait"); });
  ASSERT_TRUE(AwaitWaiting(1));
  TestClient second(port());
  auto refused = second.Request("GET", "/v1/wait");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 503);
  EXPECT_EQ(refused->at("Retry-After"), "1");
  EXPECT_EQ(server_->waiting_requests(), 1u);
  Fire();
  t.join();
  ASSERT_TRUE(first_answer.has_value());
  EXPECT_EQ(first_answer->result_int(), 200);
}

TEST_F(WaitTest, ShutdownEndsWaitsWithNotModified) {
  Start();
  TestClient client(port());
  std::optional<WireResponse> answer;
  std::thread t([&] { answer = client.Request("GET", "/v1/wait"); });
  ASSERT_TRUE(AwaitWaiting(1));
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  t.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 304);
  EXPECT_FALSE(answer->keep_alive());
  run_thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));  // not the grace
}

}  // namespace
}  // namespace coffer::http
