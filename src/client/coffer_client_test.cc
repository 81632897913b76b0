// Tests for the client's vault-name resolution (the HTTP calls are covered by the integration
// tests against the real server).
#include "client/coffer_client.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::client {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

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
  EXPECT_THAT(r, StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(FindVaultByName({}, "prod"), StatusIs(StatusCode::kNotFound));
}

TEST(FindVaultByNameTest, NamesDifferingOnlyInCaseFailClosed) {
  // Even an exact match is not taken when another vault's name differs only in case.
  const std::vector<Vault> vaults = {V("id-1", "prod"), V("id-2", "other"), V("id-3", "Prod")};
  for (const char* name : {"prod", "Prod", "PROD"}) {
    auto r = FindVaultByName(vaults, name);
    EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition,
                            AllOf(HasSubstr("more than one vault"), HasSubstr("id-1"),
                                  HasSubstr("id-3"), Not(HasSubstr("id-2")))))
        << name;
  }
}

TEST(FindVaultByNameTest, SameNameTwiceFailsClosed) {
  const std::vector<Vault> vaults = {V("id-1", "prod"), V("id-2", "prod")};
  EXPECT_THAT(FindVaultByName(vaults, "prod"), StatusIs(StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace coffer::client
