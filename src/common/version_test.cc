// Tests for Version(): the build's version is a plain MAJOR.MINOR.PATCH.
#include "common/version.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace coffer {
namespace {

TEST(VersionTest, IsMajorMinorPatch) {
  const std::string v(Version());
  EXPECT_TRUE(std::regex_match(v, std::regex(R"([0-9]+\.[0-9]+\.[0-9]+)"))) << v;
}

}  // namespace
}  // namespace coffer
