// Tests for coffer:// reference parsing.
#include "client/secret_reference.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::client {
namespace {

TEST(SecretReferenceTest, ParsesVaultPathAndVersion) {
  auto r = ParseSecretReference("coffer://prod/api-keys/openai#3");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->vault, "prod");
  EXPECT_EQ(r->path, "api-keys/openai");
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(r->ToString(), "coffer://prod/api-keys/openai#3");
}

TEST(SecretReferenceTest, VersionIsOptional) {
  auto r = ParseSecretReference("coffer://4c7f8bf4-a632-4bbe-8053-dcd57d7fec61/db");
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->vault, "4c7f8bf4-a632-4bbe-8053-dcd57d7fec61");
  EXPECT_EQ(r->path, "db");
  EXPECT_FALSE(r->version.has_value());
  EXPECT_EQ(r->ToString(), "coffer://4c7f8bf4-a632-4bbe-8053-dcd57d7fec61/db");
}

TEST(SecretReferenceTest, RefusesMalformedReferences) {
  for (const char* bad : {"coffer://", "coffer://prod", "coffer://prod/", "coffer:///path",
                          "coffer://prod/x#", "coffer://prod/x#0", "coffer://prod/x#-1",
                          "coffer://prod/x#3a", "prod/x", "https://prod/x"}) {
    auto r = ParseSecretReference(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r.has_value()) {
      EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument)) << bad;
    }
  }
}

TEST(SecretReferenceTest, BundleFormMayOmitTheScheme) {
  auto r = ParseSecretReference("prod/env/agent#2", /*scheme_optional=*/true);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_EQ(r->vault, "prod");
  EXPECT_EQ(r->path, "env/agent");
  EXPECT_EQ(r->version, 2);
  auto with_scheme = ParseSecretReference("coffer://prod/env/agent", /*scheme_optional=*/true);
  ASSERT_TRUE(with_scheme.has_value());
  EXPECT_EQ(with_scheme->path, "env/agent");
}

TEST(SecretReferenceTest, LooksLikeReferenceOnlyForTheScheme) {
  EXPECT_TRUE(LooksLikeReference("coffer://x/y"));
  EXPECT_FALSE(LooksLikeReference("coffer:/x/y"));
  EXPECT_FALSE(LooksLikeReference(" coffer://x/y"));
  EXPECT_FALSE(LooksLikeReference("/usr/bin"));
}

}  // namespace
}  // namespace coffer::client
