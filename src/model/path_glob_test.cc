// Tests for policy path globs: tables of globs, paths and prefixes with expected answers, a
// randomized comparison with a plain std::regex reference, and globs built to force backtracking.
#include "model/path_glob.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <regex>
#include <string>
#include <vector>

namespace coffer {
namespace {

// `n` segments of `segment` joined by '/'.
std::string Repeat(std::string_view segment, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) {
      out += '/';
    }
    out += segment;
  }
  return out;
}

struct MatchCase {
  std::string glob;
  std::string path;
  bool matches;
};

TEST(PathGlobTest, Matches) {
  const MatchCase cases[] = {
      // One segment: `*` never crosses '/'.
      {"api-keys/*", "api-keys/openai", true},
      {"api-keys/*", "api-keys/a/b", false},
      {"api-keys/*", "api-keys", false},
      {"api-keys/*", "api-keys-prod/x", false},  // prefix-of-segment trap
      {"api-keys/*", "api-key/x", false},
      {"api-keys/*", "xapi-keys/x", false},
      {"api-keys/*", "API-KEYS/x", false},  // case-sensitive
      {"*/openai", "x/openai", true},
      {"*/openai", "openai", false},
      {"*/openai", "a/b/openai", false},
      {"*/openai", "x/openai2", false},
      {"*", "a", true},
      {"*", "a/b", false},
      {"*/*", "a/b", true},
      {"*/*", "a", false},
      // `**`: zero or more whole segments; `api-keys/**` covers `api-keys` itself.
      {"api-keys/**", "api-keys/a", true},
      {"api-keys/**", "api-keys/a/b/c", true},
      {"api-keys/**", "api-keys", true},
      {"api-keys/**", "api-keys-prod", false},
      {"api-keys/**", "api-keys-prod/a", false},
      {"api-keys/**", "db/api-keys/a", false},
      {"api-keys/*/**", "api-keys", false},
      {"api-keys/*/**", "api-keys/a", true},
      {"api-keys/*/**", "api-keys/a/b", true},
      {"**", "a", true},
      {"**", "a/b/c/d", true},
      {"**/prod/*", "prod/x", true},
      {"**/prod/*", "a/b/prod/x", true},
      {"**/prod/*", "a/b/prod", false},
      {"**/prod/*", "a/prod/x/y", false},
      {"**/prod/*", "a/prod/prod/x", true},
      {"**/prod/*", "a/preprod/x", false},
      {"**/x", "x", true},
      {"**/x", "a/x", true},
      {"**/x", "a/xx", false},
      {"a/**/b", "a/b", true},
      {"a/**/b", "a/x/y/b", true},
      {"a/**/b", "a/b/b", true},
      {"a/**/b", "a/b/c", false},
      {"a/**/b", "ab", false},
      {"a/**/b/**/c", "a/b/c", true},
      {"a/**/b/**/c", "a/c/b/c/b/c", true},
      {"a/**/b/**/c", "a/c/b", false},
      {"**/**", "a", true},
      {"**/**", "a/b/c", true},
      {"a/**/**/b", "a/b", true},
      {"a/**/**/b", "a/x/y/z/b", true},
      {"**/**/x/**/**", "x", true},
      {"**/**/x/**/**", "a/b/x/c/d", true},
      {"**/**/x/**/**", "a/b/y/c/d", false},
      // `*` inside a segment, including empty runs.
      {"db-*", "db-main", true},
      {"db-*", "db-", true},
      {"db-*", "db", false},
      {"db-*", "db-main/x", false},
      {"a*", "a", true},
      {"a*", "abc", true},
      {"a*", "ba", false},
      {"*a", "a", true},
      {"*a", "ba", true},
      {"*a", "ab", false},
      {"*a*", "a", true},
      {"*a*", "bab", true},
      {"*a*", "bbb", false},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "acb", false},
      {"a*b*c", "abcb", false},
      {"a*b*c", "abcbc", true},
      {"*a*a*a*b", "aaab", true},
      {"*a*a*a*b", "aab", false},
      {"*a*a*a*b", "aaaa", false},
      {"x*x", "x", false},
      {"x*x", "xx", true},
      {"**/a*/b*", "q/a/b", true},
      {"**/a*/b*", "q/ab", false},
      {"secret", "secret", true},
      {"secret", "secrets", false},
      {"secret", "secre", false},
  };
  for (const MatchCase& c : cases) {
    ASSERT_TRUE(ValidatePathGlob(c.glob).ok()) << c.glob;
    ASSERT_TRUE(ValidateSecretPath(c.path).ok()) << c.path;
    EXPECT_EQ(PathGlobMatches(c.glob, c.path), c.matches) << c.glob << " vs " << c.path;
  }
}

TEST(PathGlobTest, EmptyPathMatchesNothing) {
  EXPECT_FALSE(PathGlobMatches("*", ""));
  EXPECT_FALSE(PathGlobMatches("**", ""));
}

struct ValidationCase {
  std::string glob;
  bool valid;
  std::string message_part;  // expected in the error message when invalid
};

TEST(PathGlobTest, Validation) {
  const ValidationCase cases[] = {
      {"a", true, ""},
      {"*", true, ""},
      {"**", true, ""},
      {"api-keys/*", true, ""},
      {"api-keys/**", true, ""},
      {"**/prod/*", true, ""},
      {"**/**", true, ""},
      {"*a*b*", true, ""},
      {"Prod_DB/eu-west-1/*-password", true, ""},
      {"", false, "must not be empty"},
      {"/a", false, "must not start with '/'"},
      {"/", false, "must not start with '/'"},
      {"/**", false, "must not start with '/'"},
      {"a/", false, "must not end with '/'"},
      {"**/", false, "must not end with '/'"},
      {"a//b", false, "empty segment"},
      {"a**b", false, "segment 1 mixes '**'"},
      {"a/**b", false, "segment 2 mixes '**'"},
      {"**a/b", false, "segment 1 mixes '**'"},
      {"***", false, "mixes '**'"},
      {"a/b/c/d**", false, "segment 4 mixes '**'"},
      {"a.b", false, "found '.'"},
      {"..", false, "found '.'"},
      {"a?b", false, "found '?'"},
      {"a[b]", false, "found '['"},
      {"a\\b", false, "found '\\'"},
      {"a b", false, "byte 0x20"},
      {std::string("a\0b", 3), false, "byte 0x00"},
      {"caf\xc3\xa9", false, "byte 0xc3"},
      {Repeat("*", 32), true, ""},
      {Repeat("**", 32), true, ""},
      {Repeat("*", 33), false, "more than 32 segments"},
      {std::string(512, '*'), false, "mixes '**'"},
      {std::string(512, 'x'), true, ""},
      {std::string(513, 'x'), false, "longer than 512"},
  };
  for (const ValidationCase& c : cases) {
    const Status s = ValidatePathGlob(c.glob);
    EXPECT_EQ(s.ok(), c.valid) << "'" << c.glob << "': " << s;
    if (!c.valid) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(s.message().find(c.message_part), std::string::npos)
          << "'" << c.glob << "': " << s.message();
    }
  }
}

struct PrefixCase {
  std::string glob;
  std::string prefix;
  bool may_match;
};

TEST(PathGlobTest, MayMatchPrefix) {
  const PrefixCase cases[] = {
      {"api-keys/*", "db/", false},
      {"api-keys/*", "db", false},
      {"api-keys/*", "", true},
      {"api-keys/*", "a", true},
      {"api-keys/*", "api-keys", true},  // api-keys/x starts with it
      {"api-keys/*", "api-keys/", true},
      {"api-keys/*", "api-keys/op", true},
      {"api-keys/*", "api-keys/openai", true},
      {"api-keys/*", "api-keys/openai/", false},
      {"api-keys/*", "api-keys-", false},
      {"api-keys/*", "api-keys-prod/", false},
      {"api-keys/**", "api-keys", true},
      {"api-keys/**", "api-keys/a/b/", true},
      {"api-keys/**", "api-keys-", false},
      {"api-keys/**", "db/api-keys/", false},
      {"**", "", true},
      {"**", "anything/at/all/", true},
      {"**/prod/*", "a/b/", true},
      {"**/prod/*", "a/b/prod/x/", true},  // a/b/prod/x/prod/y
      {"*/openai", "x/", true},
      {"*/openai", "x/op", true},
      {"*/openai", "x/db", false},
      {"*/openai", "x/openai/", false},
      {"*/openai", "x/y/", false},
      {"db-*", "db", true},
      {"db-*", "db-", true},
      {"db-*", "dc", false},
      {"db-*", "db-main/", false},
      {"a/*b", "a/xx", true},  // a/xxb
      {"a", "a", true},
      {"a", "a/", false},
      {"a", "ab", false},
      {"a/**/b", "a/", true},
      {"a/**/b", "a/x/y/", true},
      {"a/**/b", "c", false},
      {"*a*b", "zzz", true},  // zzzab
      {"x*x", "xy", true},    // xyx
  };
  for (const PrefixCase& c : cases) {
    ASSERT_TRUE(ValidatePathGlob(c.glob).ok()) << c.glob;
    ASSERT_TRUE(ValidateSecretPrefix(c.prefix).ok()) << c.prefix;
    EXPECT_EQ(PathGlobMayMatchPrefix(c.glob, c.prefix), c.may_match)
        << c.glob << " vs prefix '" << c.prefix << "'";
  }
}

// Reference semantics, written to be obviously right rather than fast. The subject is matched
// as "/" + path, so every glob segment can carry its own leading '/': a pattern segment becomes
// '/' then its characters (`*` -> `[^/]*`), and `**` becomes `(?:/[^/]+)*`, which handles zero
// segments without special cases for the slashes around it.
struct RefToken {
  std::string full;    // matches what the token matches
  std::string prefix;  // matches every prefix of those strings, including "" and the whole
};

std::vector<RefToken> RefTokens(std::string_view glob) {
  std::vector<RefToken> tokens;
  size_t start = 0;
  while (start <= glob.size()) {
    size_t end = glob.find('/', start);
    if (end == std::string_view::npos) {
      end = glob.size();
    }
    const std::string_view segment = glob.substr(start, end - start);
    if (segment == "**") {
      tokens.push_back({"(?:/[^/]+)*", "(?:/[^/]+)*(?:/[^/]*)?"});
    } else {
      tokens.push_back({"/", "/?"});
      for (char c : segment) {
        if (c == '*') {
          tokens.push_back({"[^/]*", "[^/]*"});
        } else {
          tokens.push_back({std::string(1, c), std::string(1, c) + "?"});
        }
      }
    }
    start = end + 1;
  }
  return tokens;
}

std::regex RefMatchRegex(std::string_view glob) {
  std::string re;
  for (const RefToken& t : RefTokens(glob)) {
    re += t.full;
  }
  return std::regex(re);
}

// Some valid path starts with `prefix` and matches the glob iff "/" + prefix is a prefix of
// something the match regex accepts: t1..tn's prefixes are P(t1) | t1 (P(t2) | t2 (...)).
// (A witness with an empty segment after the prefix can always be fixed by letting a `*`
// match a character, so validity of the witness needs no extra care.)
std::regex RefPrefixRegex(std::string_view glob) {
  const std::vector<RefToken> tokens = RefTokens(glob);
  std::string re;
  for (const RefToken& t : tokens) {
    re += "(?:" + t.prefix + "|" + t.full;
  }
  re += std::string(tokens.size(), ')');
  return std::regex(re);
}

std::string RandomGlob(std::mt19937& rng) {
  std::uniform_int_distribution<int> num_segments(1, 4);
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<int> segment_length(1, 3);
  std::string glob;
  const int n = num_segments(rng);
  for (int s = 0; s < n; ++s) {
    if (s > 0) {
      glob += '/';
    }
    if (percent(rng) < 25) {
      glob += "**";
      continue;
    }
    const int len = segment_length(rng);
    for (int i = 0; i < len; ++i) {
      const int p = percent(rng);
      if (p < 35 && (i == 0 || glob.back() != '*')) {
        glob += '*';
      } else {
        glob += p < 75 ? 'a' : 'b';
      }
    }
  }
  return glob;
}

std::string RandomPath(std::mt19937& rng) {
  std::uniform_int_distribution<int> num_segments(1, 5);
  std::uniform_int_distribution<int> segment_length(1, 3);
  std::uniform_int_distribution<int> percent(0, 99);
  std::string path;
  const int n = num_segments(rng);
  for (int s = 0; s < n; ++s) {
    if (s > 0) {
      path += '/';
    }
    const int len = segment_length(rng);
    for (int i = 0; i < len; ++i) {
      path += percent(rng) < 65 ? 'a' : 'b';
    }
  }
  return path;
}

TEST(PathGlobTest, AgreesWithRegexReference) {
  std::mt19937 rng(20240611);
  constexpr int kGlobs = 2000;
  constexpr int kPathsPerGlob = 150;
  constexpr int kPrefixesPerGlob = 40;
  int matched = 0;
  int prefix_matched = 0;
  for (int g = 0; g < kGlobs; ++g) {
    const std::string glob = RandomGlob(rng);
    ASSERT_TRUE(ValidatePathGlob(glob).ok()) << glob;
    const std::regex match_re = RefMatchRegex(glob);
    for (int p = 0; p < kPathsPerGlob; ++p) {
      const std::string path = RandomPath(rng);
      const bool want = std::regex_match("/" + path, match_re);
      ASSERT_EQ(PathGlobMatches(glob, path), want) << glob << " vs " << path;
      matched += want ? 1 : 0;
    }
    const std::regex prefix_re = RefPrefixRegex(glob);
    for (int p = 0; p < kPrefixesPerGlob; ++p) {
      // Every cut of a path is a valid list prefix: "", "a", "a/", "a/b", "a/bb", ...
      const std::string path = RandomPath(rng);
      const std::string prefix =
          path.substr(0, std::uniform_int_distribution<size_t>(0, path.size())(rng));
      const bool want = std::regex_match("/" + prefix, prefix_re);
      ASSERT_EQ(PathGlobMayMatchPrefix(glob, prefix), want)
          << glob << " vs prefix '" << prefix << "'";
      prefix_matched += want ? 1 : 0;
    }
  }
  // The generators must exercise both answers, or the comparison proves little.
  EXPECT_GT(matched, kGlobs * kPathsPerGlob / 20);
  EXPECT_LT(matched, kGlobs * kPathsPerGlob * 19 / 20);
  EXPECT_GT(prefix_matched, kGlobs * kPrefixesPerGlob / 20);
  EXPECT_LT(prefix_matched, kGlobs * kPrefixesPerGlob * 19 / 20);
}

// Globs on which a naive backtracking matcher takes exponential time. Each call here would take
// years with one; the greedy matcher does at most |glob| * |path| character comparisons.
TEST(PathGlobTest, PathologicalGlobsAreFast) {
  // 30 `**` then a segment absent from a 32-segment path.
  const std::string stars = Repeat("**", 30);
  const std::string path = Repeat("a", 32);
  const std::string path_x = Repeat("a", 31) + "/x";
  ASSERT_TRUE(ValidatePathGlob(stars + "/x").ok());
  EXPECT_FALSE(PathGlobMatches(stars + "/x", path));
  EXPECT_TRUE(PathGlobMatches(stars + "/x", path_x));
  EXPECT_TRUE(PathGlobMatches(stars, path));
  EXPECT_TRUE(PathGlobMayMatchPrefix(stars + "/x", Repeat("a", 31) + "/"));
  EXPECT_FALSE(PathGlobMayMatchPrefix("b/" + stars + "/x", Repeat("a", 31) + "/"));

  // `**` alternating with a literal segment that occurs often but not in the needed order.
  const std::string alternating = "**/" + Repeat("a/**", 15) + "/b";  // 32 segments
  ASSERT_TRUE(ValidatePathGlob(alternating).ok());
  EXPECT_FALSE(PathGlobMatches(alternating, path));
  EXPECT_FALSE(PathGlobMatches(alternating, Repeat("a", 14) + "/b"));
  EXPECT_TRUE(PathGlobMatches(alternating, Repeat("a", 15) + "/b"));
  EXPECT_TRUE(PathGlobMatches(alternating, Repeat("a", 31) + "/b"));

  // Many `*` in one segment against a long run of the repeated character.
  const std::string many_a = "*a*a*a*a*a*a*a*a*b";
  ASSERT_TRUE(ValidatePathGlob(many_a).ok());
  EXPECT_FALSE(PathGlobMatches(many_a, std::string(500, 'a')));
  EXPECT_TRUE(PathGlobMatches(many_a, std::string(499, 'a') + "b"));
  EXPECT_FALSE(PathGlobMatches(many_a, std::string(7, 'a') + "b"));
  EXPECT_TRUE(PathGlobMatches(many_a, std::string(8, 'a') + "b"));
  EXPECT_TRUE(PathGlobMayMatchPrefix(many_a, std::string(500, 'a')));

  // The longest glob of that shape: 255 "*a" and "*b" (512 characters), a 512-character segment.
  std::string longest;
  for (int i = 0; i < 255; ++i) {
    longest += "*a";
  }
  longest += "*b";
  ASSERT_TRUE(ValidatePathGlob(longest).ok());
  EXPECT_FALSE(PathGlobMatches(longest, std::string(512, 'a')));
  EXPECT_TRUE(PathGlobMatches(longest, std::string(255, 'a') + "b"));
  EXPECT_FALSE(PathGlobMatches(longest, std::string(254, 'a') + "b"));
  EXPECT_FALSE(PathGlobMayMatchPrefix(longest, std::string(511, 'a') + "/"));

  // Both levels at once: each segment is a star pattern, and `**` between them.
  const std::string mixed = Repeat("**/*a*a*a*b", 8);
  ASSERT_TRUE(ValidatePathGlob(mixed).ok());
  const std::string no_b = Repeat(std::string(14, 'a'), 32);
  const std::string last_b =
      Repeat(std::string(14, 'a'), 24) + "/" + Repeat(std::string(14, 'a') + "b", 8);
  ASSERT_TRUE(ValidateSecretPath(no_b).ok());
  ASSERT_TRUE(ValidateSecretPath(last_b).ok());
  EXPECT_FALSE(PathGlobMatches(mixed, no_b));
  EXPECT_TRUE(PathGlobMatches(mixed, last_b));
}

}  // namespace
}  // namespace coffer
