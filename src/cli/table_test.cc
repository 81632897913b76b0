// Tests for table rendering.
#include "cli/table.h"

#include <gtest/gtest.h>

namespace coffer::cli {
namespace {

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(RenderTable({"NAME", "ID", "DESCRIPTION"},
                        {{"prod", "1234", "production keys"}, {"staging-eu", "5", ""}}),
            "NAME        ID    DESCRIPTION\n"
            "prod        1234  production keys\n"
            "staging-eu  5     -\n");
}

TEST(TableTest, HeaderOnlyForNoRows) {
  EXPECT_EQ(RenderTable({"PATH", "TYPE"}, {}), "PATH  TYPE\n");
}

TEST(TableTest, CountsCodePointsAndCleansControlCharacters) {
  EXPECT_EQ(RenderTable({"N", "X"}, {{"café", "1"}, {"a\nb", "2"}, {"short"}}),
            "N      X\n"
            "café   1\n"
            "a b    2\n"
            "short  -\n");
}

}  // namespace
}  // namespace coffer::cli
