// Plain HTTP is allowed on loopback only, unless TLS is on or the operator insists.
#include "server/listen_check.h"

#include <gtest/gtest.h>

namespace coffer::server {
namespace {

TEST(ListenCheckTest, LoopbackAddresses) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "128.0.0.1",
                           "::ffff:10.0.0.1", ""}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(ListenCheckTest, PlainHttpOffLoopbackNeedsTlsOrInsecureListen) {
  EXPECT_TRUE(CheckListenSecurity("127.0.0.1", "", "", false).ok());
  Status refused = CheckListenSecurity("0.0.0.0", "", "", false);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("--tls-cert"), std::string::npos);
  EXPECT_NE(refused.message().find("--insecure-listen"), std::string::npos);
  EXPECT_TRUE(CheckListenSecurity("0.0.0.0", "", "", true).ok());
  EXPECT_TRUE(CheckListenSecurity("0.0.0.0", "c.pem", "k.pem", false).ok());
}

TEST(ListenCheckTest, HalfATlsConfigurationIsRefused) {
  EXPECT_EQ(CheckListenSecurity("127.0.0.1", "c.pem", "", false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckListenSecurity("127.0.0.1", "", "k.pem", false).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::server
