// Tests for the names of secret types and principal kinds, which are part of the API.
#include "model/secret.h"

#include <gtest/gtest.h>

#include <set>

namespace coffer {
namespace {

constexpr SecretType kAllTypes[] = {
    SecretType::kPassword, SecretType::kApiKey, SecretType::kPrivateKey, SecretType::kCertificate,
    SecretType::kFile,     SecretType::kNote,   SecretType::kSshKey,     SecretType::kEnvBundle,
    SecretType::kGeneric,  SecretType::kEnv,
};

TEST(SecretTypeTest, Names) {
  EXPECT_EQ(SecretTypeName(SecretType::kPassword), "password");
  EXPECT_EQ(SecretTypeName(SecretType::kApiKey), "api_key");
  EXPECT_EQ(SecretTypeName(SecretType::kPrivateKey), "private_key");
  EXPECT_EQ(SecretTypeName(SecretType::kCertificate), "certificate");
  EXPECT_EQ(SecretTypeName(SecretType::kFile), "file");
  EXPECT_EQ(SecretTypeName(SecretType::kNote), "note");
  EXPECT_EQ(SecretTypeName(SecretType::kSshKey), "ssh_key");
  EXPECT_EQ(SecretTypeName(SecretType::kEnvBundle), "env_bundle");
  EXPECT_EQ(SecretTypeName(SecretType::kGeneric), "generic");
  EXPECT_EQ(SecretTypeName(SecretType::kEnv), "env");
}

TEST(SecretTypeTest, ParseRoundTripsEveryType) {
  std::set<std::string_view> names;
  for (const SecretType t : kAllTypes) {
    const std::string_view name = SecretTypeName(t);
    names.insert(name);
    EXPECT_EQ(ParseSecretType(name), t) << name;
    EXPECT_NE(SecretTypeList().find(name), std::string_view::npos) << name;
  }
  EXPECT_EQ(names.size(), 10u);
}

TEST(SecretTypeTest, ParseRefusesUnknownNames) {
  for (const std::string_view bad : {"", "Password", "PASSWORD", "api-key", "apikey", "secret",
                                     "password ", " password", "ssh"}) {
    EXPECT_EQ(ParseSecretType(bad), std::nullopt) << bad;
  }
}

TEST(SecretTypeTest, ListNamesAllTen) {
  EXPECT_EQ(SecretTypeList(),
            "password, api_key, private_key, certificate, file, note, ssh_key, env_bundle, "
            "generic, env");
}

TEST(PrincipalKindTest, Names) {
  EXPECT_EQ(PrincipalKindName(PrincipalKind::kUser), "user");
  EXPECT_EQ(PrincipalKindName(PrincipalKind::kAgent), "agent");
}

TEST(SecretVersionTest, Defaults) {
  SecretVersion v;
  EXPECT_FALSE(v.is_disabled());
  EXPECT_EQ(v.metadata_json, "{}");
  EXPECT_EQ(v.max_access_count, 0);
  v.disabled_at = 5;
  EXPECT_TRUE(v.is_disabled());
  WrappedKey k;
  EXPECT_TRUE(k.active);
}

}  // namespace
}  // namespace coffer
