// EgressGuard: every refused range (IPv4 and IPv6), the IPv6 forms that embed a refused IPv4
// address, public addresses that pass, the operator's allow-list, and CIDR parsing.
#include "gateway/egress_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::gateway {
namespace {

IpAddress Ip(std::string_view text) {
  auto ip = ParseIpAddress(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip.value_or(IpAddress{});
}

struct Case {
  const char* address;
  const char* why;  // nullptr: allowed
};

// A table: each row an address and the range the guard must name (or none).
constexpr Case kCases[] = {
    // IPv4
    {"0.0.0.0", "unspecified"},
    {"0.1.2.3", "unspecified"},
    {"10.0.0.1", "private (RFC 1918)"},
    {"10.255.255.255", "private (RFC 1918)"},
    {"100.64.0.1", "carrier-grade NAT"},
    {"100.127.255.255", "carrier-grade NAT"},
    {"127.0.0.1", "loopback"},
    {"127.255.0.9", "loopback"},
    {"169.254.169.254", "cloud metadata"},
    {"169.254.0.1", "link-local"},
    {"172.16.0.1", "private (RFC 1918)"},
    {"172.31.255.255", "private (RFC 1918)"},
    {"192.0.0.8", "IETF protocol assignments"},
    {"192.0.2.10", "documentation"},
    {"192.168.1.1", "private (RFC 1918)"},
    {"198.18.0.1", "benchmarking"},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"224.0.0.251", "multicast"},
    {"239.255.255.250", "multicast"},
    {"240.0.0.1", "reserved"},
    {"255.255.255.255", "reserved"},
    // IPv6
    {"::", "unspecified"},
    {"::1", "loopback"},
    {"fd00:ec2::254", "cloud metadata"},
    {"fc00::1", "unique-local"},
    {"fdff:ffff::1", "unique-local"},
    {"fe80::1", "link-local"},
    {"febf::1", "link-local"},
    {"fec0::1", "site-local"},
    {"ff02::1", "multicast"},
    {"2001:db8::1", "documentation"},
    {"100::1", "discard-only"},
    // IPv6 forms of refused IPv4 addresses
    {"::ffff:127.0.0.1", "loopback (IPv4-mapped form of 127.0.0.1)"},
    {"::ffff:169.254.169.254", "cloud metadata (IPv4-mapped form of 169.254.169.254)"},
    {"::ffff:10.1.2.3", "private (RFC 1918) (IPv4-mapped form of 10.1.2.3)"},
    {"::127.0.0.1", "loopback (IPv4-compatible form of 127.0.0.1)"},
    {"::192.168.0.1", "private (RFC 1918) (IPv4-compatible form of 192.168.0.1)"},
    {"64:ff9b::7f00:1", "loopback (NAT64 form of 127.0.0.1)"},
    {"64:ff9b::a9fe:a9fe", "cloud metadata (NAT64 form of 169.254.169.254)"},
    {"2002:7f00:1::", "loopback (6to4 form of 127.0.0.1)"},
    {"2002:c0a8:101::1", "private (RFC 1918) (6to4 form of 192.168.1.1)"},
    // Public unicast: allowed
    {"8.8.8.8", nullptr},
    {"1.1.1.1", nullptr},
    {"100.63.255.255", nullptr},
    {"100.128.0.0", nullptr},
    {"172.15.255.255", nullptr},
    {"172.32.0.0", nullptr},
    {"169.253.255.255", nullptr},
    {"192.169.0.1", nullptr},
    {"2606:4700:4700::1111", nullptr},
    {"::ffff:8.8.8.8", nullptr},
    {"64:ff9b::808:808", nullptr},
    {"2002:808:808::1", nullptr},
};

TEST(EgressGuardTest, RefusesEveryInternalRangeAndNamesIt) {
  for (const Case& c : kCases) {
    const auto why = EgressGuard::ForbiddenRange(Ip(c.address));
    if (c.why == nullptr) {
      EXPECT_FALSE(why.has_value()) << c.address << " refused as " << why.value_or("");
      EXPECT_THAT(EgressGuard().Check(Ip(c.address)), IsOk()) << c.address;
    } else {
      ASSERT_TRUE(why.has_value()) << c.address << " was allowed";
      EXPECT_THAT(*why, ::testing::StartsWith(c.why)) << c.address;
      Status s = EgressGuard().Check(Ip(c.address));
      EXPECT_THAT(s, StatusIs(StatusCode::kPermissionDenied)) << c.address;
      EXPECT_THAT(s.message(), ::testing::HasSubstr("--egress-allow")) << c.address;
    }
  }
}

TEST(EgressGuardTest, TheAllowListOverridesTheRefusalOnlyInsideItsBlocks) {
  auto allow = EgressGuard::ParseAllowList(" 127.0.0.1/32 , 10.1.0.0/16,fd12::/16");
  ASSERT_THAT(allow, IsOk());
  ASSERT_EQ(allow->size(), 3u);
  const EgressGuard guard(*allow);
  EXPECT_THAT(guard.Check(Ip("127.0.0.1")), IsOk());
  EXPECT_THAT(guard.Check(Ip("::ffff:127.0.0.1")), IsOk());  // the same address, mapped
  EXPECT_THAT(guard.Check(Ip("127.0.0.2")), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(guard.Check(Ip("::1")), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(guard.Check(Ip("10.1.200.3")), IsOk());
  EXPECT_THAT(guard.Check(Ip("10.2.0.1")), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(guard.Check(Ip("fd12:3::1")), IsOk());
  EXPECT_THAT(guard.Check(Ip("fd13::1")), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(guard.Check(Ip("169.254.169.254")), StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(guard.Check(Ip("8.8.4.4")), IsOk());
}

TEST(EgressGuardTest, CidrBlocksParseStrictly) {
  auto block = ParseCidrBlock("192.168.0.0/16");
  ASSERT_THAT(block, IsOk());
  EXPECT_EQ(FormatCidrBlock(*block), "192.168.0.0/16");
  EXPECT_THAT(ParseCidrBlock("2001:db8::/32"), IsOk());
  auto single = ParseCidrBlock("127.0.0.1");
  ASSERT_THAT(single, IsOk());
  EXPECT_EQ(FormatCidrBlock(*single), "127.0.0.1/32");
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/x", "host/8",
                          "::/129", "10.0.0.0/-1", "10.0.0.0/8/8"}) {
    EXPECT_THAT(ParseCidrBlock(bad), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(EgressGuard::ParseAllowList("10.0.0.0/8,nonsense"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(EgressGuard::ParseAllowList(""), IsOkAndHolds(::testing::IsEmpty()));
}

}  // namespace
}  // namespace coffer::gateway
