// Tests for env_bundle parsing.
#include "client/env_bundle.h"

#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace coffer::client {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(EnvBundleTest, ParsesLinesCommentsExportAndQuotes) {
  auto r = ParseEnvBundle(
      "# agent settings\n"
      "OPENAI_API_KEY=sk-1\r\n"
      "\n"
      "export DB_URL = postgres://u:p@h/db?x=1\n"
      "QUOTED=\"two words\"\n"
      "SINGLE='a#b'\n"
      "EMPTY=\n"
      "  INDENTED=yes  ");
  ASSERT_TRUE(r.has_value()) << r.error();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].name, "OPENAI_API_KEY");
  EXPECT_EQ((*r)[0].value.view(), "sk-1");
  EXPECT_EQ((*r)[1].name, "DB_URL");
  EXPECT_EQ((*r)[1].value.view(), "postgres://u:p@h/db?x=1");
  EXPECT_EQ((*r)[2].value.view(), "two words");
  EXPECT_EQ((*r)[3].value.view(), "a#b");
  EXPECT_EQ((*r)[4].name, "EMPTY");
  EXPECT_EQ((*r)[4].value.view(), "");
  EXPECT_EQ((*r)[5].name, "INDENTED");
  EXPECT_EQ((*r)[5].value.view(), "yes");
}

TEST(EnvBundleTest, ErrorsNameTheLineButNotItsText) {
  auto r = ParseEnvBundle("A=1\nsk-very-secret-no-equals\n");
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("line 2"), Not(HasSubstr("sk-very")))));

  auto bad_name = ParseEnvBundle("1ABC=hunter2");
  EXPECT_THAT(bad_name, StatusIs(_, AllOf(HasSubstr("line 1"), Not(HasSubstr("hunter2")))));
}

TEST(EnvBundleTest, EmptyBundleHasNoEntries) {
  auto r = ParseEnvBundle("\n# nothing\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->empty());
}

TEST(EnvBundleTest, EnvNames) {
  EXPECT_TRUE(IsEnvName("A"));
  EXPECT_TRUE(IsEnvName("_x9"));
  EXPECT_FALSE(IsEnvName(""));
  EXPECT_FALSE(IsEnvName("9A"));
  EXPECT_FALSE(IsEnvName("A-B"));
  EXPECT_FALSE(IsEnvName("A B"));
}

}  // namespace
}  // namespace coffer::client
