// CurlUpstreamClient against a loopback server in the test (port 0, one thread per
// connection): the head and each body chunk reach the sink as they arrive, interim heads are
// skipped, the response is bounded, time runs out, a call is cancelled mid-stream, the guard
// refuses loopback unless allowed, a redirect is not followed, 64 calls run at once, and a call
// started on a thread that runs a ThreadLoop is driven by that thread.
#include "gateway/upstream.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/mutex.h"
#include "common/status_matchers.h"
#include "common/thread_loop.h"

namespace coffer::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one request (head and a Content-Length body); empty when the peer went away first.
std::string ReadRequest(int fd) {
  std::string request;
  char buf[4096];
  for (;;) {
    const size_t end = request.find("\r\n\r\n");
    if (end != std::string::npos) {
      const size_t cl = request.find("Content-Length: ");
      const size_t want = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
      if (request.size() >= end + 4 + want) return request;
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return {};
    request.append(buf, static_cast<size_t>(n));
  }
}

// Blocks until the peer closes the connection (or 10 s pass, so a broken test cannot hang).
void WaitForClose(int fd) {
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

// Serves 127.0.0.1:0: each connection on its own thread, `handler(fd, request)` answering.
class LoopbackServer {
 public:
  using Handler = std::function<void(int fd, const std::string& request)>;
  explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 128), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        connections_.fetch_add(1);
        MutexLock lock(mu_);
        workers_.emplace_back([this, c] {
          const std::string request = ReadRequest(c);
          {
            MutexLock lock(mu_);
            requests_.push_back(request);
          }
          if (!request.empty()) handler_(c, request);
          close(c);
        });
      }
    });
  }
  ~LoopbackServer() {
    shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    std::vector<std::thread> workers;
    {
      MutexLock lock(mu_);
      workers.swap(workers_);
    }
    for (auto& w : workers) w.join();
    close(fd_);
  }
  std::string url(std::string_view path = "/v1/things") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int connections() const { return connections_.load(); }
  std::string first_request() {
    MutexLock lock(mu_);
    return requests_.empty() ? std::string() : requests_.front();
  }

 private:
  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  Mutex mu_;
  std::vector<std::thread> workers_ COFFER_GUARDED_BY(mu_);
  std::vector<std::string> requests_ COFFER_GUARDED_BY(mu_);
};

// A ThreadLoop on a thread of the test's: poll() on the watched descriptors and an eventfd for
// the functions Run hands it.
class PollThreadLoop final : public ThreadLoop {
 public:
  PollThreadLoop() : wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    thread_ = std::thread([this] {
      SetCurrent(this);
      Loop();
      SetCurrent(nullptr);
    });
  }
  ~PollThreadLoop() override {
    Run([this] { stop_ = true; });
    thread_.join();
    for (const auto& w : watches_) close(w.fd);
    close(wake_);
  }
  PollThreadLoop(const PollThreadLoop&) = delete;
  PollThreadLoop& operator=(const PollThreadLoop&) = delete;

  void Watch(int fd, std::function<bool()> ready) override {
    watches_.push_back({fd, std::move(ready)});
  }

  // Runs `f` on the loop's thread and waits for it.
  void Run(const std::function<void()>& f) {
    // The task owns the promise: the caller, woken by set_value, may return (and would destroy a
    // promise of its own) while set_value is still running on the loop's thread.
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    {
      MutexLock lock(mu_);
      tasks_.emplace_back([&f, done] {
        f();
        done->set_value();
      });
    }
    const uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
    finished.wait();
  }
  std::thread::id thread_id() const { return thread_.get_id(); }
  // Descriptors still watched (on the loop's thread).
  size_t watching() {
    size_t n = 0;
    Run([&] { n = watches_.size(); });
    return n;
  }

 private:
  struct Watched {
    int fd;
    std::function<bool()> ready;
  };
  void Loop() {
    while (!stop_) {
      std::vector<pollfd> fds{{.fd = wake_, .events = POLLIN, .revents = 0}};
      for (const auto& w : watches_) fds.push_back({.fd = w.fd, .events = POLLIN, .revents = 0});
      (void)poll(fds.data(), fds.size(), -1);
      if ((fds[0].revents & POLLIN) != 0) {
        uint64_t count = 0;
        (void)!read(wake_, &count, sizeof count);
        std::deque<std::function<void()>> tasks;
        {
          MutexLock lock(mu_);
          tasks.swap(tasks_);
        }
        for (auto& task : tasks) task();
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it =
            std::ranges::find_if(watches_, [&](const Watched& w) { return w.fd == fds[i].fd; });
        if (it != watches_.end() && !it->ready()) {
          close(it->fd);
          watches_.erase(it);
        }
      }
    }
  }

  const int wake_;
  std::vector<Watched> watches_;  // the loop's thread's
  bool stop_ = false;             // the loop's thread's
  Mutex mu_;
  std::deque<std::function<void()>> tasks_ COFFER_GUARDED_BY(mu_);
  std::thread thread_;
};

// Records what the client hands over.
class RecordingSink final : public UpstreamSink {
 public:
  std::function<bool(std::string_view)> on_body;  // set before Start
  // Threads the sink was called on.
  std::vector<std::thread::id> threads() {
    MutexLock lock(mu_);
    return threads_;
  }

  void OnHead(int status, std::vector<std::pair<std::string, std::string>> headers) override {
    MutexLock lock(mu_);
    threads_.push_back(std::this_thread::get_id());
    ++heads_;
    status_ = status;
    headers_ = std::move(headers);
  }
  bool OnBody(std::string_view bytes) override {
    {
      MutexLock lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      body_.append(bytes);
      ++chunks_;
    }
    cv_.NotifyAll();
    return on_body ? on_body(bytes) : true;
  }
  void OnDone(Status status) override {
    {
      MutexLock lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      ++dones_;
      done_ = std::move(status);
    }
    cv_.NotifyAll();
  }
  // The final status, once OnDone came (within 10 s, or the test fails).
  Status Wait() {
    MutexLock lock(mu_);
    if (!cv_.WaitFor(mu_, 10s, [&]() COFFER_REQUIRES(mu_) { return dones_ > 0; })) {
      return InternalError("no OnDone within 10 s");
    }
    return done_;
  }
  bool WaitForBody() {
    MutexLock lock(mu_);
    return cv_.WaitFor(mu_, 10s, [&]() COFFER_REQUIRES(mu_) { return chunks_ > 0; });
  }
  int status() {
    MutexLock lock(mu_);
    return status_;
  }
  int heads() {
    MutexLock lock(mu_);
    return heads_;
  }
  int dones() {
    MutexLock lock(mu_);
    return dones_;
  }
  std::string body() {
    MutexLock lock(mu_);
    return body_;
  }
  std::vector<std::pair<std::string, std::string>> headers() {
    MutexLock lock(mu_);
    return headers_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int heads_ COFFER_GUARDED_BY(mu_) = 0;
  int status_ COFFER_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::string, std::string>> headers_ COFFER_GUARDED_BY(mu_);
  std::string body_ COFFER_GUARDED_BY(mu_);
  int chunks_ COFFER_GUARDED_BY(mu_) = 0;
  int dones_ COFFER_GUARDED_BY(mu_) = 0;
  Status done_ COFFER_GUARDED_BY(mu_);
  std::vector<std::thread::id> threads_ COFFER_GUARDED_BY(mu_);
};

EgressGuard LoopbackAllowed() { return EgressGuard({ParseCidrBlock("127.0.0.1/32").value()}); }

UpstreamRequest Get(std::string url) {
  UpstreamRequest r;
  r.method = "GET";
  r.url = std::move(url);
  r.allow_http = true;
  r.max_duration = 10s;
  return r;
}

TEST(CurlUpstreamClientTest, HeadAndChunksReachTheSinkAsTheyArrive) {
  std::promise<void> first_seen;
  std::atomic<bool> sent_end_after_first{false};
  LoopbackServer server([&](int fd, const std::string&) {
    SendAll(fd,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Upstream: A\r\n"
            "Transfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    // The end is sent only once the sink has had the first chunk.
    if (first_seen.get_future().wait_for(10s) == std::future_status::ready) {
      sent_end_after_first = true;
    }
    SendAll(fd, "6\r\nsecond\r\n0\r\n\r\n");
  });
  auto sink = std::make_shared<RecordingSink>();
  std::atomic<bool> once{false};
  sink->on_body = [&](std::string_view) {
    if (!once.exchange(true)) first_seen.set_value();
    return true;
  };
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  UpstreamRequest request = Get(server.url("/v1/chat?x=1"));
  request.method = "POST";
  request.headers = {{"authorization", "Bearer upstream-token"}, {"x-trace", "t1"}};
  request.body = "hello";
  client->Start(std::move(request), sink);
  ASSERT_THAT(sink->Wait(), IsOk());
  EXPECT_TRUE(sent_end_after_first);
  EXPECT_EQ(sink->heads(), 1);
  EXPECT_EQ(sink->dones(), 1);
  EXPECT_EQ(sink->status(), 200);
  EXPECT_EQ(sink->body(), "firstsecond");
  EXPECT_THAT(sink->headers(), ::testing::Contains(std::pair<std::string, std::string>(
                                   "content-type", "text/plain")));
  EXPECT_THAT(sink->headers(),
              ::testing::Contains(std::pair<std::string, std::string>("x-upstream", "A")));
  const std::string seen = server.first_request();
  EXPECT_THAT(seen, ::testing::StartsWith("POST /v1/chat?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(seen, HasSubstr("authorization: Bearer upstream-token\r\n"));
  EXPECT_THAT(seen, HasSubstr("x-trace: t1\r\n"));
  EXPECT_THAT(seen, HasSubstr("Content-Length: 5\r\n"));
  EXPECT_THAT(seen, ::testing::EndsWith("\r\n\r\nhello"));
  for (const char* absent : {"Expect:", "Accept:", "Content-Type:", "User-Agent:"}) {
    EXPECT_THAT(seen, Not(HasSubstr(absent))) << absent;
  }
}

TEST(CurlUpstreamClientTest, InterimHeadsAreSkippedAndAGetSendsNoBody) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd,
            "HTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  UpstreamRequest request = Get(server.url());
  request.body = "ignored";
  client->Start(std::move(request), sink);
  ASSERT_THAT(sink->Wait(), IsOk());
  EXPECT_EQ(sink->heads(), 1);
  EXPECT_EQ(sink->status(), 201);
  EXPECT_EQ(sink->body(), "ok");
  EXPECT_THAT(server.first_request(), ::testing::StartsWith("GET /v1/things HTTP/1.1\r\n"));
  EXPECT_THAT(server.first_request(), ::testing::EndsWith("\r\n\r\n"));
}

TEST(CurlUpstreamClientTest, HeadSendsNoBodyAndDeleteWithoutABodyNoLength) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Seen: 1\r\n\r\n");
  });
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  auto head = std::make_shared<RecordingSink>();
  UpstreamRequest request = Get(server.url());
  request.method = "HEAD";
  client->Start(std::move(request), head);
  ASSERT_THAT(head->Wait(), IsOk());
  EXPECT_EQ(head->status(), 200);
  EXPECT_EQ(head->body(), "");
  EXPECT_THAT(server.first_request(), ::testing::StartsWith("HEAD /v1/things HTTP/1.1\r\n"));

  LoopbackServer second(
      [](int fd, const std::string&) { SendAll(fd, "HTTP/1.1 204 No Content\r\n\r\n"); });
  auto del = std::make_shared<RecordingSink>();
  request = Get(second.url());
  request.method = "DELETE";
  client->Start(std::move(request), del);
  ASSERT_THAT(del->Wait(), IsOk());
  EXPECT_EQ(del->status(), 204);
  EXPECT_EQ(del->heads(), 1);
  EXPECT_THAT(second.first_request(), ::testing::StartsWith("DELETE /v1/things HTTP/1.1\r\n"));
  EXPECT_THAT(second.first_request(), Not(HasSubstr("Content-Length")));
}

TEST(CurlUpstreamClientTest, AResponseOverTheBoundEndsTheCall) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  UpstreamRequest request = Get(server.url());
  request.max_response_bytes = 16;
  client->Start(std::move(request), sink);
  EXPECT_THAT(sink->Wait(), StatusIs(StatusCode::kResourceExhausted));
  EXPECT_EQ(sink->body(), std::string(16, 'x'));
  EXPECT_EQ(sink->dones(), 1);
}

TEST(CurlUpstreamClientTest, AnUpstreamThatDoesNotAnswerRunsOutOfTime) {
  LoopbackServer server([](int fd, const std::string&) { WaitForClose(fd); });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  UpstreamRequest request = Get(server.url("/x?api_key=query-credential"));
  request.max_duration = 150ms;
  client->Start(std::move(request), sink);
  const Status s = sink->Wait();
  EXPECT_THAT(s, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_THAT(s.message(), HasSubstr("127.0.0.1"));
  EXPECT_THAT(s.message(), Not(HasSubstr("query-credential")));
  EXPECT_EQ(sink->heads(), 0);
}

TEST(CurlUpstreamClientTest, CancelStopsACallMidStream) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    WaitForClose(fd);
  });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  std::shared_ptr<UpstreamCall> call = client->Start(Get(server.url()), sink);
  ASSERT_TRUE(sink->WaitForBody());
  const auto before = std::chrono::steady_clock::now();
  call->Cancel();
  EXPECT_THAT(sink->Wait(), StatusIs(StatusCode::kCancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  call->Cancel();  // after the end: nothing happens
  EXPECT_EQ(sink->dones(), 1);
  EXPECT_EQ(sink->body(), "first");
}

TEST(CurlUpstreamClientTest, ASinkThatStopsEndsTheCallCancelled) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    WaitForClose(fd);
  });
  auto sink = std::make_shared<RecordingSink>();
  sink->on_body = [](std::string_view) { return false; };
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  client->Start(Get(server.url()), sink);
  EXPECT_THAT(sink->Wait(), StatusIs(StatusCode::kCancelled));
}

TEST(CurlUpstreamClientTest, DestroyingTheClientCancelsItsCalls) {
  LoopbackServer server([](int fd, const std::string&) { WaitForClose(fd); });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  std::shared_ptr<UpstreamCall> call = client->Start(Get(server.url()), sink);
  client.reset();
  EXPECT_THAT(sink->Wait(), StatusIs(StatusCode::kCancelled));
  call->Cancel();  // the client is gone: nothing happens
  EXPECT_EQ(sink->dones(), 1);
}

TEST(CurlUpstreamClientTest, LoopbackIsRefusedWithoutTheAllowList) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(EgressGuard());
  client->Start(Get(server.url("/x?api_key=query-credential")), sink);
  const Status s = sink->Wait();
  EXPECT_THAT(s, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(s.message(), HasSubstr("loopback"));
  EXPECT_THAT(s.message(), Not(HasSubstr("query-credential")));
  EXPECT_EQ(sink->heads(), 0);
  EXPECT_EQ(server.connections(), 0);
}

TEST(CurlUpstreamClientTest, ARedirectIsPassedOnNotFollowed) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 5\r\n\r\nmoved");
  });
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  client->Start(Get(server.url()), sink);
  ASSERT_THAT(sink->Wait(), IsOk());
  EXPECT_EQ(sink->status(), 302);
  EXPECT_EQ(sink->body(), "moved");
  EXPECT_EQ(server.connections(), 1);
}

TEST(CurlUpstreamClientTest, RefusedUrlsAndUnreachableUpstreams) {
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  auto https_only = std::make_shared<RecordingSink>();
  UpstreamRequest plain = Get("http://127.0.0.1:1/x");
  plain.allow_http = false;
  client->Start(std::move(plain), https_only);
  EXPECT_THAT(https_only->Wait(), StatusIs(StatusCode::kInvalidArgument));

  for (auto [method, name, value] :
       {std::tuple<std::string, std::string, std::string>{"GET /x HTTP/1.1\r\nX:", "x-ok", "v"},
        {"GET", "x-ok", "v\r\nx-injected: 1"},
        {"GET", "bad name", "v"}}) {
    auto bad = std::make_shared<RecordingSink>();
    UpstreamRequest request = Get("http://127.0.0.1:1/x");
    request.method = method;
    request.headers = {{name, value}};
    client->Start(std::move(request), bad);
    EXPECT_THAT(bad->Wait(), StatusIs(StatusCode::kInvalidArgument)) << name;
  }

  // A port nothing listens on: bound, then closed.
  int port = 0;
  {
    LoopbackServer gone([](int, const std::string&) {});
    port = std::stoi(gone.url().substr(std::string("http://127.0.0.1:").size()));
  }
  auto refused = std::make_shared<RecordingSink>();
  client->Start(Get("http://127.0.0.1:" + std::to_string(port) + "/x"), refused);
  EXPECT_THAT(refused->Wait(), StatusIs(StatusCode::kUnavailable));
}

TEST(CurlUpstreamClientTest, SixtyFourCallsAtOnceAllComplete) {
  LoopbackServer server([](int fd, const std::string& request) {
    const size_t start = request.find(' ') + 1;
    const std::string path = request.substr(start, request.find(' ', start) - start);
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(path.size()) + "\r\n\r\n" +
                    path);
  });
  auto client = NewCurlUpstreamClient(LoopbackAllowed(), /*max_concurrent=*/16);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 64; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>());
    client->Start(Get(server.url("/call/" + std::to_string(i))), sinks.back());
  }
  for (int i = 0; i < 64; ++i) {
    ASSERT_THAT(sinks[i]->Wait(), IsOk()) << i;
    EXPECT_EQ(sinks[i]->status(), 200);
    EXPECT_EQ(sinks[i]->body(), "/call/" + std::to_string(i));
  }
}

// A request body the test hands over piece by piece.
class TestBodySource final : public UpstreamBodySource {
 public:
  void Push(std::string_view bytes, bool end = false) {
    std::function<void()> wake;
    {
      MutexLock lock(mu_);
      data_.append(bytes);
      ended_ = ended_ || end;
      wake = wake_;
    }
    if (wake) wake();
  }
  Result Read(char* out, size_t max, size_t* n) override {
    MutexLock lock(mu_);
    *n = std::min(max, data_.size());
    std::copy_n(data_.data(), *n, out);
    data_.erase(0, *n);
    taken_ += *n;
    if (*n > 0) return Result::kData;
    return ended_ ? Result::kEnd : Result::kWait;
  }
  void SetWake(std::function<void()> wake) override {
    MutexLock lock(mu_);
    wake_ = std::move(wake);
  }
  Status failure() const override { return OkStatus(); }
  void Close() override {
    MutexLock lock(mu_);
    closed_ = true;
  }
  std::optional<uint64_t> length() const override { return std::nullopt; }
  uint64_t taken() const override {
    MutexLock lock(mu_);
    return taken_;
  }
  bool closed() const {
    MutexLock lock(mu_);
    return closed_;
  }

 private:
  mutable Mutex mu_;
  std::string data_ COFFER_GUARDED_BY(mu_);
  bool ended_ COFFER_GUARDED_BY(mu_) = false;
  bool closed_ COFFER_GUARDED_BY(mu_) = false;
  uint64_t taken_ COFFER_GUARDED_BY(mu_) = 0;
  std::function<void()> wake_ COFFER_GUARDED_BY(mu_);
};

TEST(CurlUpstreamClientTest, AStreamedBodyReachesTheUpstreamAsItArrives) {
  const std::string first(64 * 1024, 'a');
  const std::string second(64 * 1024, 'b');
  std::promise<void> first_arrived;
  std::string received;  // what the upstream read after the head, chunk framing included
  LoopbackServer server([&](int fd, const std::string& request) {
    std::string seen = request.substr(request.find("\r\n\r\n") + 4);
    bool told = false;
    char buf[16384];
    for (;;) {
      if (!told && seen.find(first.substr(0, 4096)) != std::string::npos) {
        first_arrived.set_value();  // before the rest exists
        told = true;
      }
      if (seen.ends_with("\r\n0\r\n\r\n")) break;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
    }
    received = seen;
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  auto source = std::make_shared<TestBodySource>();
  source->Push(first);
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  UpstreamRequest request = Get(server.url("/v1/upload"));
  request.method = "PUT";
  request.body_source = source;
  client->Start(std::move(request), sink);
  // The upstream has the first part while the rest has not been written yet.
  ASSERT_EQ(first_arrived.get_future().wait_for(10s), std::future_status::ready);
  source->Push(second, /*end=*/true);
  ASSERT_THAT(sink->Wait(), IsOk());
  EXPECT_EQ(sink->status(), 200);
  EXPECT_EQ(sink->body(), "ok");
  EXPECT_EQ(source->taken(), first.size() + second.size());
  EXPECT_TRUE(source->closed());
  const std::string head = server.first_request();
  EXPECT_THAT(head, ::testing::StartsWith("PUT /v1/upload HTTP/1.1\r\n"));
  EXPECT_THAT(head, HasSubstr("Transfer-Encoding: chunked\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("Expect:")));
  std::string body;  // the chunks, unframed
  for (size_t at = 0;;) {
    const size_t eol = received.find("\r\n", at);
    ASSERT_NE(eol, std::string::npos);
    const size_t size = std::stoul(received.substr(at, eol - at), nullptr, 16);
    if (size == 0) break;
    body += received.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
  EXPECT_EQ(body, first + second);
}

TEST(CurlUpstreamClientTest, AStreamedBodyOverItsBoundEndsTheCall) {
  LoopbackServer server([](int fd, const std::string&) { WaitForClose(fd); });
  auto source = std::make_shared<TestBodySource>();
  source->Push(std::string(100, 'x'));
  auto sink = std::make_shared<RecordingSink>();
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  UpstreamRequest request = Get(server.url("/v1/upload"));
  request.method = "POST";
  request.body_source = source;
  request.max_request_bytes = 64;
  client->Start(std::move(request), sink);
  source->Push(std::string(100, 'y'), /*end=*/true);
  const Status done = sink->Wait();
  EXPECT_EQ(done.code(), StatusCode::kOutOfRange) << done;
  EXPECT_EQ(sink->heads(), 0);
  EXPECT_TRUE(source->closed());
}

// A call started on a thread that runs a ThreadLoop is driven by that thread: the sink hears
// everything there, a stream's later chunks and libcurl's timer included, and a cancel or the
// client's end from another thread still reaches it.
TEST(CurlUpstreamClientTest, ACallStartedOnAThreadLoopIsDrivenByThatThread) {
  std::promise<void> first_seen;
  std::shared_future<void> seen = first_seen.get_future().share();  // every call waits for it
  LoopbackServer server([&](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    (void)seen.wait_for(10s);
    SendAll(fd, "6\r\nsecond\r\n0\r\n\r\n");
  });
  PollThreadLoop loop;
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  auto sink = std::make_shared<RecordingSink>();
  std::atomic<bool> once{false};
  sink->on_body = [&](std::string_view) {
    if (!once.exchange(true)) first_seen.set_value();
    return true;
  };
  loop.Run([&] { client->Start(Get(server.url()), sink); });
  ASSERT_THAT(sink->Wait(), IsOk());
  EXPECT_EQ(sink->body(), "firstsecond");
  const std::vector<std::thread::id> threads = sink->threads();
  ASSERT_FALSE(threads.empty());
  for (const auto& id : threads) EXPECT_EQ(id, loop.thread_id());
  EXPECT_EQ(loop.watching(), 1u);  // the loop's engine, kept for the next call

  // The next call from the loop reuses the engine and its connection-pool.
  auto again = std::make_shared<RecordingSink>();
  loop.Run([&] { client->Start(Get(server.url()), again); });
  ASSERT_THAT(again->Wait(), IsOk());
  EXPECT_EQ(loop.watching(), 1u);

  // A call from a thread without a loop goes to the client's transfer thread.
  auto elsewhere = std::make_shared<RecordingSink>();
  client->Start(Get(server.url()), elsewhere);
  ASSERT_THAT(elsewhere->Wait(), IsOk());
  for (const auto& id : elsewhere->threads()) EXPECT_NE(id, loop.thread_id());
}

TEST(CurlUpstreamClientTest, OnAThreadLoopTimeCancelAndTheClientsEndStillWork) {
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    WaitForClose(fd);
  });
  PollThreadLoop loop;
  auto client = NewCurlUpstreamClient(LoopbackAllowed());

  // libcurl's timer fires on the loop: the call runs out of time.
  auto timed = std::make_shared<RecordingSink>();
  UpstreamRequest request = Get(server.url());
  request.max_duration = 300ms;
  loop.Run([&] { client->Start(std::move(request), timed); });
  EXPECT_THAT(timed->Wait(), StatusIs(StatusCode::kDeadlineExceeded));

  // Cancelled from this thread (as the kill switch does), mid-stream.
  auto cancelled = std::make_shared<RecordingSink>();
  std::shared_ptr<UpstreamCall> call;
  loop.Run([&] { call = client->Start(Get(server.url()), cancelled); });
  ASSERT_TRUE(cancelled->WaitForBody());
  const auto before = std::chrono::steady_clock::now();
  call->Cancel();
  EXPECT_THAT(cancelled->Wait(), StatusIs(StatusCode::kCancelled));
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);

  // The client goes while a call on the loop is in flight: the call ends, and the loop stops
  // watching the engine's descriptor.
  auto orphan = std::make_shared<RecordingSink>();
  loop.Run([&] { client->Start(Get(server.url()), orphan); });
  ASSERT_TRUE(orphan->WaitForBody());
  client.reset();
  EXPECT_THAT(orphan->Wait(), StatusIs(StatusCode::kCancelled));
  EXPECT_EQ(orphan->dones(), 1);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (loop.watching() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(loop.watching(), 0u);
}

TEST(CurlUpstreamClientTest, AStreamedBodyOnAThreadLoopIsSentAsItArrives) {
  std::promise<void> first_arrived;
  LoopbackServer server([&](int fd, const std::string& request) {
    std::string seen = request.substr(request.find("\r\n\r\n") + 4);
    bool told = false;
    char buf[4096];
    while (!seen.ends_with("\r\n0\r\n\r\n")) {
      if (!told && seen.find("hello") != std::string::npos) {
        first_arrived.set_value();  // before "world" exists
        told = true;
      }
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return;
      seen.append(buf, static_cast<size_t>(n));
    }
    const bool both =
        seen.find("hello") != std::string::npos && seen.find("world") != std::string::npos;
    SendAll(fd, std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n") + (both ? "ok" : "no"));
  });
  PollThreadLoop loop;
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  auto source = std::make_shared<TestBodySource>();
  auto sink = std::make_shared<RecordingSink>();
  UpstreamRequest request = Get(server.url());
  request.method = "POST";
  request.body_source = source;
  loop.Run([&] { client->Start(std::move(request), sink); });
  source->Push("hello");  // wakes the paused upload on the loop
  ASSERT_EQ(first_arrived.get_future().wait_for(10s), std::future_status::ready);
  source->Push("world", /*end=*/true);
  ASSERT_THAT(sink->Wait(), IsOk());
  EXPECT_EQ(sink->body(), "ok");
  EXPECT_EQ(source->taken(), 10u);
  EXPECT_TRUE(source->closed());
  for (const auto& id : sink->threads()) EXPECT_EQ(id, loop.thread_id());
}

// The sanitizers' runtimes need descriptors of their own (UBSan's memory check opens a pipe): in
// a process left with none to spare they report errors that are not there, so the test below
// runs in the build without them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// A thread loop's engine is made on the loop's first call, long after start-up: when the process
// is out of descriptors then, the call goes to the transfer thread instead of ending the process.
TEST(CurlUpstreamClientTest, OutOfDescriptorsACallOnAThreadLoopGoesToTheTransferThread) {
  if (kSanitized) GTEST_SKIP() << "the sanitizers' runtimes need descriptors of their own";
  LoopbackServer server([](int fd, const std::string&) {
    SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  PollThreadLoop loop;
  auto client = NewCurlUpstreamClient(LoopbackAllowed());
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Every descriptor but two is taken: the call's socket and the server's accept need them, an
  // engine (a multi handle, an epoll set, an eventfd, a timerfd) needs more.
  const int probe = dup(0);
  ASSERT_GE(probe, 0);
  close(probe);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(probe) + 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> taken;
  for (int fd = dup(0); fd >= 0; fd = dup(0)) taken.push_back(fd);
  for (int i = 0; i < 2 && !taken.empty(); ++i) {
    close(taken.back());
    taken.pop_back();
  }
  auto sink = std::make_shared<RecordingSink>();
  loop.Run([&] { client->Start(Get(server.url()), sink); });
  const Status done = sink->Wait();
  for (int fd : taken) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(sink->body(), "ok");
  for (const auto& id : sink->threads()) EXPECT_NE(id, loop.thread_id());
  EXPECT_EQ(loop.watching(), 0u);
}

}  // namespace
}  // namespace coffer::gateway
