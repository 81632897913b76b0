// Tests for the client's vault-name resolution (the HTTP calls are covered by the integration
// tests against the real server).
#include "client/coffer_client.h"

#include <gtest/gtest.h>

namespace coffer::client {
namespace {

Vault V(std::string id, std::string name) {
  Vault v;
  v.id = std::move(id);
  v.name = std::move(name);
  return v;
}

TEST(FindVaultByNameTest, MatchesIgnoringCase) {
  const std::vector<Vault> vaults = {V("id-1", "Prod"), V("id-2", "staging")};
  EXPECT_EQ(FindVaultByName(vaults, "Prod").value(), "id-1");
  EXPECT_EQ(FindVaultByName(vaults, "prod").value(), "id-1");
  EXPECT_EQ(FindVaultByName(vaults, "PROD").value(), "id-1");
  EXPECT_EQ(FindVaultByName(vaults, "Staging").value(), "id-2");
}

TEST(FindVaultByNameTest, NoMatchIsNotFound) {
  const std::vector<Vault> vaults = {V("id-1", "prod")};
  auto r = FindVaultByName(vaults, "prod2");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(FindVaultByName({}, "prod").error().code(), StatusCode::kNotFound);
}

TEST(FindVaultByNameTest, NamesDifferingOnlyInCaseFailClosed) {
  // Even an exact match is not taken when another vault's name differs only in case.
  const std::vector<Vault> vaults = {V("id-1", "prod"), V("id-2", "other"), V("id-3", "Prod")};
  for (const char* name : {"prod", "Prod", "PROD"}) {
    auto r = FindVaultByName(vaults, name);
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
    const std::string& m = r.error().message();
    EXPECT_NE(m.find("more than one vault"), std::string::npos) << m;
    EXPECT_NE(m.find("id-1"), std::string::npos) << m;
    EXPECT_NE(m.find("id-3"), std::string::npos) << m;
    EXPECT_EQ(m.find("id-2"), std::string::npos) << m;
  }
}

TEST(FindVaultByNameTest, SameNameTwiceFailsClosed) {
  const std::vector<Vault> vaults = {V("id-1", "prod"), V("id-2", "prod")};
  EXPECT_EQ(FindVaultByName(vaults, "prod").error().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace coffer::client
