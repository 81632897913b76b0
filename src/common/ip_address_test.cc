#include "common/ip_address.h"

#include <gtest/gtest.h>

namespace coffer {
namespace {

TEST(IpAddressTest, ParsesBothFamiliesIntoOneFormAndWritesThemCanonically) {
  const auto v4 = ParseIpAddress("192.0.2.7");
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->is_v4);
  EXPECT_EQ(v4->bytes[10], 0xff);
  EXPECT_EQ(v4->bytes[15], 7);
  EXPECT_EQ(FormatIpAddress(*v4), "192.0.2.7");
  const auto v6 = ParseIpAddress("2001:DB8:0:0::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_FALSE(v6->is_v4);
  EXPECT_EQ(FormatIpAddress(*v6), "2001:db8::1");
  for (const char* bad : {"", "[::1]", "example.com", "192.0.2.256", "1.2.3", "::1%eth0"}) {
    EXPECT_FALSE(ParseIpAddress(bad).has_value()) << bad;
  }
}

TEST(IpAddressTest, ComparesPrefixesToTheBit) {
  const auto a = ParseIpAddress("10.1.2.3")->bytes;
  const auto b = ParseIpAddress("10.1.3.3")->bytes;
  EXPECT_TRUE(SameIpPrefix(a, b, 96 + 16));  // 10.1.0.0/16
  EXPECT_TRUE(SameIpPrefix(a, b, 96 + 23));  // 10.1.2.0/23 holds 10.1.3.3
  EXPECT_FALSE(SameIpPrefix(a, b, 96 + 24));
  EXPECT_TRUE(SameIpPrefix(a, b, 0));
  EXPECT_FALSE(SameIpPrefix(a, ParseIpAddress("::a01:203")->bytes, 96));  // not v4-mapped
}

}  // namespace
}  // namespace coffer
