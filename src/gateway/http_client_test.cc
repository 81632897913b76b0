// CurlHttpClient against a one-shot receiver on 127.0.0.1 (port 0): loopback refused by the
// guard unless allowed, the answer returned as it is (a redirect is not followed), the body
// bounded; and the URL rules.
#include "gateway/http_client.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/status_matchers.h"

namespace coffer::gateway {
namespace {

// Accepts one connection on 127.0.0.1, reads the request head and body, sends `answer`.
class OneShotReceiver {
 public:
  explicit OneShotReceiver(std::string answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~OneShotReceiver() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  void Serve() {
    thread_ = std::thread([this] {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      for (;;) {
        const ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        request_.append(buf, static_cast<size_t>(n));
        const size_t end = request_.find("\r\n\r\n");
        if (end != std::string::npos) {
          const size_t cl = request_.find("Content-Length: ");
          const size_t want = cl == std::string::npos ? 0 : std::stoul(request_.substr(cl + 16));
          if (request_.size() >= end + 4 + want) break;
        }
      }
      (void)!write(c, answer_.data(), answer_.size());
      close(c);
    });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  const std::string& request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::string answer_;
  std::string request_;
  std::thread thread_;
};

HttpClientOptions HttpAllowed() {
  HttpClientOptions o;
  o.allow_http = true;
  o.max_response_bytes = 16;
  return o;
}

OutboundRequest Post(std::string url) {
  OutboundRequest r;
  r.url = std::move(url);
  r.headers = {{"content-type", "application/json"}, {"webhook-id", "msg_1"}};
  r.body = R"({"type":"webhook.test"})";
  return r;
}

TEST(CurlHttpClientTest, LoopbackIsRefusedWithoutTheAllowListAndSaysWhy) {
  OneShotReceiver receiver("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  CurlHttpClient client(EgressGuard(), HttpAllowed());
  auto r = client.Send(Post(receiver.url()));
  EXPECT_THAT(r, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(r.error().message(), ::testing::HasSubstr("loopback"));
}

TEST(CurlHttpClientTest, AnAllowedReceiverGetsTheRequestAndARedirectIsNotFollowed) {
  OneShotReceiver receiver(
      "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 40\r\n\r\n"
      "0123456789012345678901234567890123456789");
  receiver.Serve();
  CurlHttpClient client(EgressGuard({ParseCidrBlock("127.0.0.1/32").value()}), HttpAllowed());
  auto r = client.Send(Post(receiver.url()));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->body.size(), 16u);  // bounded
  EXPECT_TRUE(r->truncated);
  const std::string& seen = receiver.request();
  EXPECT_THAT(seen, ::testing::StartsWith("POST /hook HTTP/1.1"));
  EXPECT_THAT(seen, ::testing::HasSubstr("webhook-id: msg_1"));
  EXPECT_THAT(seen, ::testing::EndsWith(R"({"type":"webhook.test"})"));
}

TEST(CurlHttpClientTest, UrlsAreHttpsWithoutCredentials) {
  EXPECT_THAT(ValidateOutboundUrl("https://hooks.example.com/x?y=1", false), IsOk());
  EXPECT_THAT(ValidateOutboundUrl("http://hooks.example.com/x", true), IsOk());
  for (const char* bad :
       {"", "http://hooks.example.com/x", "ftp://hooks.example.com/", "https://",
        "https://user:pw@hooks.example.com/", "https://user@hooks.example.com/",
        "https://hooks.example.com/a b", "https://hooks.example.com/#frag", "hooks.example.com"}) {
    Status s = ValidateOutboundUrl(bad, false);
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(s.message(), ::testing::Not(::testing::HasSubstr("pw"))) << bad;
  }
  CurlHttpClient client{EgressGuard(), HttpClientOptions()};
  EXPECT_THAT(client.Send(Post("http://hooks.example.com/")),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace coffer::gateway
