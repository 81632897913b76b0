// Tests for how HttpServer gets a handler's response onto the wire: before_send continuations
// (awaited, failing, outliving the server, stopped under load) and routes tried on the I/O thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/non_blocking.h"
#include "common/thread_loop.h"
#include "http/server.h"
#include "http/server_test_fixture.h"

namespace coffer::http {
namespace {

namespace bhttp = boost::beast::http;
using std::chrono::milliseconds;

// before_send: the server waits for the continuation, which comes from another thread once
// continuation_gate_ is open, and sends the response only if it is OK.
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
                    MutexLock lock(threads_mu_);
                    threads_.emplace_back([this, ok, then = std::move(then)] {
                      continuation_gate_.Pass();
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
        MutexLock lock(threads_mu_);
        held_.push_back(std::move(then));
      };
      return r;
    });
    // A handler still running until busy_gate_ opens.
    router_.Add("GET", "/v1/busy", [this](const Request&, const RouteParams&) {
      busy_gate_.Pass();
      return Text("busy")(Request(), RouteParams());
    });
  }
  ~BeforeSendTest() override {
    continuation_gate_.Open();
    busy_gate_.Open();
    Stop();
    JoinContinuations();
  }

  void JoinContinuations() {
    std::vector<std::thread> threads;
    {
      MutexLock lock(threads_mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) {
      t.join();
    }
  }

  size_t HeldCount() {
    MutexLock lock(threads_mu_);
    return held_.size();
  }

  std::atomic<bool> honoured_{false};
  Gate continuation_gate_;
  Gate busy_gate_;
  Mutex threads_mu_;
  std::vector<std::thread> threads_ COFFER_GUARDED_BY(threads_mu_);
  std::vector<std::function<void(Status)>> held_ COFFER_GUARDED_BY(threads_mu_);
};

TEST_F(BeforeSendTest, AnOkContinuationSendsTheResponse) {
  Start();
  TestClient client(port());
  auto response =
      std::async(std::launch::async, [&] { return client.Request("GET", "/v1/gated/ok"); });
  EXPECT_TRUE(continuation_gate_.AwaitArrivals(1));
  EXPECT_EQ(response.wait_for(milliseconds(0)), std::future_status::timeout)
      << "nothing is sent before the continuation is called";
  continuation_gate_.Open();
  auto r = response.get();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(honoured_.load());
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), R"({"value":"gated-s3cr3t"})");
}

TEST_F(BeforeSendTest, AFailedContinuationSendsItsProblemAndNothingOfTheBody) {
  continuation_gate_.Open();
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
  continuation_gate_.Open();
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
    (void)c.Request("GET", "/v1/gated/ok");  // the server's shutdown is checked, not the answer
  });
  // Shut down while the request waits for its continuation: the server must not be destroyed
  // under it (the continuation posts to the server's I/O context).
  EXPECT_TRUE(continuation_gate_.AwaitArrivals(1));
  server_->Shutdown();
  continuation_gate_.Open();
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
    MutexLock lock(threads_mu_);
    then = held_.front();  // a copy: the one in held_ is kept as well
  }
  then(OkStatus());  // too late to be sent: the I/O threads are gone
  server_.reset();
  then = nullptr;
  {
    MutexLock lock(threads_mu_);
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
    continuation_gate_.Reset();
    busy_gate_.Reset();
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
    // Every busy handler is running and every gated request waits for its continuation.
    ASSERT_TRUE(busy_gate_.AwaitArrivals(kEach));
    ASSERT_TRUE(continuation_gate_.AwaitArrivals(kEach));

    server_->Shutdown();
    // They finish while the server stops: before the grace is over when it drains, in a race
    // with it when it does not.
    busy_gate_.Open();
    continuation_gate_.Open();
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

// An I/O thread offers its event loop (common/thread_loop.h): a descriptor a handler on it
// watches is reported on that same thread; a worker thread has none.
class ThreadLoopTest : public ServerTest {
 protected:
  ThreadLoopTest() {
    router_.Add(
        "GET", "/v1/loop",
        [this](const Request&, const RouteParams&) {
          Response r;
          r.content_type = "text/plain";
          ThreadLoop* loop = ThreadLoop::Current();
          if (loop == nullptr) {
            r.body = "none";
            return r;
          }
          int fds[2];
          if (pipe(fds) != 0) {
            r.status = 500;
            return r;
          }
          {
            MutexLock lock(mu_);
            handler_thread_ = std::this_thread::get_id();
          }
          loop->Watch(fds[0], [this, fd = fds[0]] {
            {
              MutexLock lock(mu_);
              watch_thread_ = std::this_thread::get_id();
              if (++ready_calls_ == 1) {
                // A round that throws does not end the watch: the byte is still there to read.
                throw std::runtime_error("one failed round");
              }
            }
            char byte = 0;
            const bool got = read(fd, &byte, 1) == 1;
            return !got;  // watching stops once the byte is read (the loop closes fd)
          });
          (void)!write(fds[1], "x", 1);
          close(fds[1]);
          r.body = "loop";
          return r;
        },
        RouteOptions{.io_thread = true});
  }
  Mutex mu_;
  std::thread::id handler_thread_ COFFER_GUARDED_BY(mu_);
  std::thread::id watch_thread_ COFFER_GUARDED_BY(mu_);
  int ready_calls_ COFFER_GUARDED_BY(mu_) = 0;
};

TEST_F(ThreadLoopTest, AWatchedDescriptorIsReportedOnTheHandlersIoThreadUntilDone) {
  ServerOptions options = DefaultOptions();
  options.io_thread_routes = true;
  options.io_threads = 2;
  Start(options);
  TestClient client(port());
  auto r = client.Request("GET", "/v1/loop");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->body(), "loop");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    {
      MutexLock lock(mu_);
      if (ready_calls_ >= 2) {
        EXPECT_EQ(watch_thread_, handler_thread_);
        break;
      }
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the watch was not called again";
    std::this_thread::sleep_for(milliseconds(5));
  }
  // Once `ready` said so, the watch is over: no call follows.
  std::this_thread::sleep_for(milliseconds(50));
  MutexLock lock(mu_);
  EXPECT_EQ(ready_calls_, 2);
}

TEST_F(ThreadLoopTest, AWorkerThreadHasNoLoop) {
  Start();  // without io_thread_routes every handler runs on the worker pool
  TestClient client(port());
  auto r = client.Request("GET", "/v1/loop");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "none");
}

}  // namespace
}  // namespace coffer::http
