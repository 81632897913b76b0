// Tests for ClientIp and TrustedProxies: which address a request is attributed to, for every
// arrangement of X-Forwarded-For lines a client and its proxies may send. Cases as data.
#include "http/client_ip.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coffer::http {
namespace {

struct Case {
  std::string name;
  std::string peer;
  std::vector<std::string> forwarded_for;  // one entry per header line, in the order sent
  std::string expected;
};

const TrustedProxies& Proxies() {
  static const TrustedProxies proxies = *TrustedProxies::Parse("127.0.0.1, 10.0.0.0/8, ::1");
  return proxies;
}

Request RequestFrom(const Case& c) {
  Request request;
  request.peer_ip = c.peer;
  request.headers.emplace_back("host", "coffer");
  for (const std::string& line : c.forwarded_for) {
    request.headers.emplace_back("x-forwarded-for", line);
    request.headers.emplace_back("x-other", "between the lines");
  }
  return request;
}

class ClientIpTest : public ::testing::TestWithParam<Case> {};

TEST_P(ClientIpTest, AttributesTheRequest) {
  const Case& c = GetParam();
  EXPECT_EQ(ClientIp(RequestFrom(c), Proxies()), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ClientIpTest,
    ::testing::Values(
        Case{"untrusted_peer_ignores_the_header", "198.51.100.9", {"203.0.113.1"}, "198.51.100.9"},
        Case{"no_header", "127.0.0.1", {}, "127.0.0.1"},
        Case{"one_line", "127.0.0.1", {"203.0.113.1"}, "203.0.113.1"},
        Case{"client_entry_left_of_the_proxy_entry",
             "127.0.0.1",
             {"198.51.100.66, 203.0.113.1"},
             "203.0.113.1"},
        // The client sent its own line; the proxy appended a second line with the real peer.
        Case{"client_line_before_the_proxy_line",
             "127.0.0.1",
             {"198.51.100.66", "203.0.113.1"},
             "203.0.113.1"},
        Case{"client_line_with_a_trusted_address_before_the_proxy_line",
             "127.0.0.1",
             {"198.51.100.66, 10.0.0.3", "203.0.113.1"},
             "203.0.113.1"},
        Case{"chain_of_trusted_proxies_across_lines",
             "127.0.0.1",
             {"198.51.100.66", "203.0.113.1, 10.0.0.2", "10.0.0.3"},
             "203.0.113.1"},
        Case{"all_trusted_gives_the_left_most", "127.0.0.1", {"10.0.0.2", "10.0.0.3"}, "10.0.0.2"},
        // Garbage was not written by a trusted proxy: the last trusted hop is the client.
        Case{"garbage_right_most_gives_the_peer",
             "127.0.0.1",
             {"203.0.113.1", "nonsense"},
             "127.0.0.1"},
        Case{"garbage_behind_trusted_hop_gives_that_hop",
             "127.0.0.1",
             {"203.0.113.1", "nonsense, 10.0.0.4"},
             "10.0.0.4"},
        Case{"garbage_left_of_the_client_is_never_reached",
             "127.0.0.1",
             {"not an address", "203.0.113.1"},
             "203.0.113.1"},
        Case{"empty_client_line", "127.0.0.1", {"", "203.0.113.1"}, "203.0.113.1"},
        Case{"address_with_port_is_garbage", "127.0.0.1", {"203.0.113.1:4711"}, "127.0.0.1"},
        Case{"ipv6_in_canonical_form", "::1", {"2001:DB8:0:0:0:0:0:1"}, "2001:db8::1"},
        Case{"bracketed_ipv6", "127.0.0.1", {"[2001:db8::7]"}, "2001:db8::7"},
        Case{"whitespace_around_entries",
             "127.0.0.1",
             {" 198.51.100.66 ,\t203.0.113.1 "},
             "203.0.113.1"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(TrustedProxiesTest, RefusesWhatIsNotAnAddressOrBlock) {
  EXPECT_FALSE(TrustedProxies::Parse("10.0.0.0/33").has_value());
  EXPECT_FALSE(TrustedProxies::Parse("proxy.internal").has_value());
  EXPECT_FALSE(TrustedProxies::Parse("10.0.0.0/x").has_value());
  auto parsed = TrustedProxies::Parse("10.1.0.0/16, 2001:db8::/32");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->Contains("10.1.200.3"));
  EXPECT_FALSE(parsed->Contains("10.2.0.1"));
  EXPECT_TRUE(parsed->Contains("2001:db8:ffff::1"));
  EXPECT_FALSE(parsed->Contains("2001:db9::1"));
}

}  // namespace
}  // namespace coffer::http
