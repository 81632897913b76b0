// Tests for streamed response bodies (Response::stream): each write arrives as a chunk before the
// next is made, HTTP/1.0 gets the bytes until the close, a failed body ends without its last
// chunk (HTTP/1.0: with a reset), a client going away or not reading abandons the stream, the
// connection serves the next request after a finished one, a deferred answer may stream, a refused
// before_send abandons the stream, no worker thread waits for a producer, and shutdown abandons
// streams once the grace runs out.
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

class StreamTest : public ServerTest {
 protected:
  StreamTest() {
    // Streams a body the test writes through Body(). ?status= sets the status.
    router_.Add("GET", "/v1/stream", [this](const Request& req, const RouteParams&) {
      Response r = StreamingResponse();
      r.status = std::stoi(std::string(req.Query("status").value_or("200")));
      return r;
    });
    // The same, after a deferred wait that is woken at once.
    router_.Add("GET", "/v1/later", [this](const Request&, const RouteParams&) {
      auto deferred = std::make_shared<Deferred>();
      deferred->wake = std::make_shared<WakeSignal>();
      deferred->timeout = milliseconds(5000);
      deferred->resume = [this](bool) -> std::optional<Response> { return StreamingResponse(); };
      deferred->wake->Fire();
      Response r;
      r.deferred = std::move(deferred);
      return r;
    });
    // A streamed response whose before_send refuses it.
    router_.Add("GET", "/v1/refused", [this](const Request&, const RouteParams&) {
      Response r = StreamingResponse();
      r.before_send = [](std::function<void(Status)> then) {
        then(PermissionDeniedError("not this time"));
      };
      return r;
    });
  }

  Response StreamingResponse() {
    auto stream = std::make_shared<BodyStream>();
    stream->OnAbandoned([this] { ++abandoned_; });
    {
      MutexLock lock(mu_);
      stream_ = stream;
    }
    Response r;
    r.content_type = "text/plain";
    r.headers.emplace_back("X-Upstream", "yes");
    r.stream = std::move(stream);
    return r;
  }

  // The body of the last streamed response, once its handler has made it.
  std::shared_ptr<BodyStream> Body() {
    std::shared_ptr<BodyStream> body;
    Eventually([&] {
      MutexLock lock(mu_);
      body = stream_;
      return body != nullptr;
    });
    return body;
  }

  int LogCount(const std::string& line) {
    int n = 0;
    for (const std::string& entry : Log()) {
      n += entry == line ? 1 : 0;
    }
    return n;
  }

  Mutex mu_;
  std::shared_ptr<BodyStream> stream_ COFFER_GUARDED_BY(mu_);
  std::atomic<int> abandoned_{0};
};

TEST_F(StreamTest, EachWriteArrivesAsAChunkThenTheConnectionIsReused) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto header = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *header;
  EXPECT_NE(header->find("Transfer-Encoding: chunked\r\n"), std::string::npos) << *header;
  EXPECT_NE(header->find("Content-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(header->find("X-Upstream: yes\r\n"), std::string::npos);
  EXPECT_NE(header->find("X-Request-Id: "), std::string::npos);
  EXPECT_NE(header->find("Cache-Control: no-store\r\n"), std::string::npos);
  EXPECT_EQ(header->find("Content-Length"), std::string::npos);

  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("hello"));
  EXPECT_EQ(client.ReadUntil("hello\r\n"), "5\r\nhello\r\n");
  // The second write is made only once the first has arrived.
  ASSERT_TRUE(body->Write("world, "));
  ASSERT_TRUE(body->Write("again"));
  auto second = client.ReadUntil("again\r\n");
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(*second == "7\r\nworld, \r\n5\r\nagain\r\n" || *second == "c\r\nworld, again\r\n")
      << *second;
  EXPECT_EQ(LogCount("GET /v1/stream 200"), 0);  // logged when the stream ends
  body->Finish();
  EXPECT_EQ(client.ReadUntil("0\r\n\r\n"), "0\r\n\r\n");
  EXPECT_TRUE(Eventually([&] { return LogCount("GET /v1/stream 200") == 1; }));
  EXPECT_FALSE(body->Write("late"));
  EXPECT_EQ(abandoned_.load(), 0);

  // The same connection answers the next request.
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "hello");
}

TEST_F(StreamTest, AClientParsesTheStreamedResponse) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("{\"a\":"));
  ASSERT_TRUE(body->Write("1}"));
  body->Finish();
  auto answer = client.ReadResponse();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 200);
  EXPECT_EQ(answer->body(), "{\"a\":1}");
  EXPECT_TRUE(answer->keep_alive());
}

TEST_F(StreamTest, Http10GetsTheBytesUntilTheClose) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.0\r\n\r\n"));
  auto header = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << *header;
  EXPECT_EQ(header->find("Transfer-Encoding"), std::string::npos);
  EXPECT_EQ(header->find("Content-Length"), std::string::npos);
  EXPECT_EQ(header->find("keep-alive"), std::string::npos);
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("abc"));
  EXPECT_EQ(client.ReadUntil("abc"), "abc");
  ASSERT_TRUE(body->Write("def"));
  body->Finish();
  std::string rest;
  EXPECT_TRUE(client.WaitForClose(&rest));
  EXPECT_EQ(rest, "def");
  EXPECT_TRUE(Eventually([&] { return LogCount("GET /v1/stream 200") == 1; }));
}

TEST_F(StreamTest, AFailedBodyClosesWithoutItsLastChunk) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n").has_value());
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("part"));
  EXPECT_EQ(client.ReadUntil("part\r\n"), "4\r\npart\r\n");
  body->Fail();
  std::string rest;
  EXPECT_TRUE(client.WaitForClose(&rest));
  EXPECT_EQ(rest, "");              // no "0\r\n\r\n"
  EXPECT_EQ(abandoned_.load(), 0);  // the producer ended it
  EXPECT_TRUE(Eventually([&] { return LogCount("GET /v1/stream 200") == 1; }));
}

TEST_F(StreamTest, AClientGoingAwayAbandonsTheStream) {
  Start();
  std::shared_ptr<BodyStream> body;
  {
    TestClient client(port());
    ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
    ASSERT_TRUE(client.ReadUntil("\r\n\r\n").has_value());
    body = Body();
    ASSERT_NE(body, nullptr);
    ASSERT_TRUE(body->Write("first"));
    ASSERT_TRUE(client.ReadUntil("first\r\n").has_value());
  }  // closed while the producer is idle
  EXPECT_TRUE(Eventually([&] { return abandoned_.load() == 1; }));
  EXPECT_FALSE(body->Write("more"));
  EXPECT_TRUE(Eventually([&] { return server_->active_connections() == 0; }));
  EXPECT_TRUE(Eventually([&] { return LogCount("GET /v1/stream 200") == 1; }));
  EXPECT_EQ(abandoned_.load(), 1);
}

TEST_F(StreamTest, AClientThatStopsReadingTimesOutAWrite) {
  ServerOptions options = DefaultOptions();
  options.write_timeout = milliseconds(200);
  Start(options);
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n").has_value());
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  // More than the socket buffers hold, never read: a write waits past its time limit.
  const std::string megabyte(1 << 20, 'x');
  for (int i = 0; i < 64 && body->Write(megabyte); ++i) {
  }
  EXPECT_TRUE(Eventually([&] { return abandoned_.load() == 1; }));
  EXPECT_FALSE(body->Write("more"));
}

TEST_F(StreamTest, AFailedHttp10BodyResetsTheConnection) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n").has_value());
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("abc"));
  EXPECT_EQ(client.ReadUntil("abc"), "abc");
  body->Fail();
  // Not an orderly end of the body: a reset, which a clean close could not be told from.
  EXPECT_TRUE(client.WaitForReset());
}

TEST_F(StreamTest, ABodylessStatusSendsNoBody) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream?status=204 HTTP/1.1\r\nHost: test\r\n\r\n"));
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("discarded"));
  body->Finish();
  auto answer = client.ReadResponse();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 204);
  EXPECT_TRUE(answer->body().empty());
  auto next = client.Request("GET", "/v1/hello");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "hello");
}

TEST_F(StreamTest, ADeferredAnswerMayStream) {
  Start();
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/later HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto header = client.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(header.has_value());
  EXPECT_NE(header->find("Transfer-Encoding: chunked\r\n"), std::string::npos) << *header;
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  ASSERT_TRUE(body->Write("late"));
  EXPECT_EQ(client.ReadUntil("late\r\n"), "4\r\nlate\r\n");
  body->Finish();
  EXPECT_EQ(client.ReadUntil("0\r\n\r\n"), "0\r\n\r\n");
  EXPECT_EQ(server_->waiting_requests(), 0u);
}

TEST_F(StreamTest, ARefusedBeforeSendAbandonsTheStream) {
  Start();
  TestClient client(port());
  auto answer = client.Request("GET", "/v1/refused");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result_int(), 403);
  EXPECT_EQ(abandoned_.load(), 1);
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  EXPECT_FALSE(body->Write("x"));
}

TEST_F(StreamTest, AnIdleProducerHoldsNoWorkerThread) {
  ServerOptions options = DefaultOptions();
  options.worker_threads = 1;
  Start(options);
  TestClient streaming(port());
  ASSERT_TRUE(streaming.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  ASSERT_TRUE(streaming.ReadUntil("\r\n\r\n").has_value());
  TestClient other(port());
  auto hello = other.Request("GET", "/v1/hello");
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->body(), "hello");
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  body->Finish();
  EXPECT_EQ(streaming.ReadUntil("0\r\n\r\n"), "0\r\n\r\n");
}

TEST_F(StreamTest, ShutdownAbandonsStreamsWhenTheGraceRunsOut) {
  ServerOptions options = DefaultOptions();
  options.shutdown_grace = milliseconds(200);
  Start(options);
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n").has_value());
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  server_->Shutdown();
  // Still streaming during the grace.
  ASSERT_TRUE(body->Write("during"));
  EXPECT_EQ(client.ReadUntil("during\r\n"), "6\r\nduring\r\n");
  run_thread_.join();  // the grace ran out
  EXPECT_EQ(abandoned_.load(), 1);
  EXPECT_FALSE(body->Write("after"));
}

TEST_F(StreamTest, AStreamFinishedDuringShutdownEndsItWithoutTheGrace) {
  ServerOptions options = DefaultOptions();
  options.shutdown_grace = milliseconds(10000);
  Start(options);
  TestClient client(port());
  ASSERT_TRUE(client.Send("GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("\r\n\r\n").has_value());
  std::shared_ptr<BodyStream> body = Body();
  ASSERT_NE(body, nullptr);
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  ASSERT_TRUE(body->Write("last"));
  body->Finish();
  EXPECT_EQ(client.ReadUntil("0\r\n\r\n"), "4\r\nlast\r\n0\r\n\r\n");
  EXPECT_TRUE(client.WaitForClose());  // not kept alive while the server drains
  run_thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(5000));  // not the grace
  EXPECT_EQ(abandoned_.load(), 0);
}

}  // namespace
}  // namespace coffer::http
