// Tests for the secret path and list-prefix rules, as a table of inputs and expected verdicts.
#include "model/secret_path.h"

#include <gtest/gtest.h>

#include <string>

namespace coffer {
namespace {

struct PathCase {
  std::string path;
  bool valid;
  std::string message_part;  // expected in the error message when invalid
};

std::string Segments(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "s" : "/s";
  return out;
}

TEST(SecretPathTest, Rules) {
  const PathCase cases[] = {
      {"a", true, ""},
      {"api-keys/openai", true, ""},
      {"Prod_DB/eu-west-1/password", true, ""},
      {"0/1/2", true, ""},
      {"a-b_c", true, ""},
      {"", false, "must not be empty"},
      {"/a", false, "must not start with '/'"},
      {"/", false, "must not start with '/'"},
      {"a/", false, "must not end with '/'"},
      {"a//b", false, "empty segment"},
      {".", false, "found '.'"},
      {"..", false, "found '.'"},
      {"a/../b", false, "found '.'"},
      {"a/./b", false, "found '.'"},
      {".hidden", false, "found '.'"},
      {"a b", false, "byte 0x20"},
      {"a\tb", false, "byte 0x09"},
      {"a\nb", false, "byte 0x0a"},
      {std::string("a\0b", 3), false, "byte 0x00"},
      {"caf\xc3\xa9", false, "byte 0xc3"},
      {"a\\b", false, "found '\\'"},
      {"a%2Fb", false, "found '%'"},
      {"a?b", false, "found '?'"},
      {"a*", false, "found '*'"},
      {"a:b", false, "found ':'"},
      {Segments(32), true, ""},
      {Segments(33), false, "more than 32 segments"},
      {std::string(512, 'x'), true, ""},
      {std::string(513, 'x'), false, "longer than 512"},
  };
  for (const PathCase& c : cases) {
    const Status s = ValidateSecretPath(c.path);
    EXPECT_EQ(s.ok(), c.valid) << "'" << c.path << "': " << s;
    if (!c.valid) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(s.message().find(c.message_part), std::string::npos)
          << "'" << c.path << "': " << s.message();
      EXPECT_NE(s.message().find("secret path"), std::string::npos) << s.message();
    }
  }
}

TEST(SecretPathTest, LongPathIsNotEchoed) {
  const std::string long_path(600, 'q');
  const Status s = ValidateSecretPath(long_path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("qqqqqqqq"), std::string::npos);
}

TEST(SecretPrefixTest, Rules) {
  const PathCase cases[] = {
      {"", true, ""},
      {"api-keys", true, ""},
      {"api-keys/", true, ""},
      {"a/b/", true, ""},
      {"/", false, "must not start with '/'"},
      {"/a", false, "must not start with '/'"},
      {"a//", false, "must not end with '/'"},
      {"a//b", false, "empty segment"},
      {"a/../", false, "found '.'"},
      {"a b/", false, "byte 0x20"},
      {"a/*", false, "found '*'"},
      {Segments(32) + "/", true, ""},
      {Segments(33), false, "more than 32 segments"},
      {std::string(512, 'x'), true, ""},
      {std::string(513, 'x'), false, "longer than 512"},
  };
  for (const PathCase& c : cases) {
    const Status s = ValidateSecretPrefix(c.path);
    EXPECT_EQ(s.ok(), c.valid) << "'" << c.path << "': " << s;
    if (!c.valid) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(s.message().find(c.message_part), std::string::npos)
          << "'" << c.path << "': " << s.message();
      EXPECT_NE(s.message().find("prefix"), std::string::npos) << s.message();
    }
  }
}

TEST(SecretPrefixTest, EveryValidPathIsAValidPrefix) {
  for (const std::string_view p : {"a", "a/b", "api-keys/openai", "x_y-z/1"}) {
    EXPECT_TRUE(ValidateSecretPath(p).ok());
    EXPECT_TRUE(ValidateSecretPrefix(p).ok());
    EXPECT_TRUE(ValidateSecretPrefix(std::string(p) + "/").ok());
  }
}

}  // namespace
}  // namespace coffer
