// Tests for generated secret values: charsets, length bounds, alphabet membership and a
// chi-square check that every character is equally likely.
#include "crypto/value_generator.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>
#include <vector>

#include "common/random.h"
#include "common/status_matchers.h"

namespace coffer {
namespace {

constexpr Charset kAllCharsets[] = {Charset::kHex, Charset::kBase64, Charset::kAlphanumeric,
                                    Charset::kAscii};

TEST(ValueGeneratorTest, ParseCharset) {
  EXPECT_EQ(ParseCharset("hex"), Charset::kHex);
  EXPECT_EQ(ParseCharset("base64"), Charset::kBase64);
  EXPECT_EQ(ParseCharset("alphanumeric"), Charset::kAlphanumeric);
  EXPECT_EQ(ParseCharset("ascii"), Charset::kAscii);
  EXPECT_EQ(ParseCharset("HEX"), std::nullopt);
  EXPECT_EQ(ParseCharset(""), std::nullopt);
  EXPECT_EQ(ParseCharset("base32"), std::nullopt);
}

TEST(ValueGeneratorTest, Alphabets) {
  EXPECT_EQ(CharsetAlphabet(Charset::kHex), "0123456789abcdef");
  EXPECT_EQ(CharsetAlphabet(Charset::kBase64).size(), 64u);
  EXPECT_EQ(CharsetAlphabet(Charset::kAlphanumeric).size(), 62u);
  const std::string_view ascii = CharsetAlphabet(Charset::kAscii);
  ASSERT_EQ(ascii.size(), 94u);
  for (size_t i = 0; i < ascii.size(); ++i) EXPECT_EQ(ascii[i], static_cast<char>('!' + i));
  for (const Charset c : kAllCharsets) {
    const std::string_view a = CharsetAlphabet(c);
    EXPECT_EQ(std::set<char>(a.begin(), a.end()).size(), a.size()) << "duplicate in alphabet";
  }
  const std::string_view b64 = CharsetAlphabet(Charset::kBase64);
  EXPECT_NE(b64.find('+'), std::string_view::npos);
  EXPECT_NE(b64.find('/'), std::string_view::npos);
}

TEST(ValueGeneratorTest, LengthBounds) {
  auto random = NewDeterministicRandom(1);
  for (const size_t bad : {size_t{0}, size_t{7}, size_t{1025}, size_t{1} << 40}) {
    auto v = GenerateValue(Charset::kHex, bad, *random);
    ASSERT_THAT(v, StatusIs(StatusCode::kInvalidArgument, "length must be between 8 and 1024"));
  }
  for (const size_t good : {size_t{8}, size_t{32}, size_t{1024}}) {
    auto v = GenerateValue(Charset::kAscii, good, *random);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->size(), good);
  }
}

TEST(ValueGeneratorTest, EveryCharacterInAlphabet) {
  auto random = NewDeterministicRandom(2);
  for (const Charset c : kAllCharsets) {
    const std::string_view alphabet = CharsetAlphabet(c);
    for (int i = 0; i < 50; ++i) {
      auto v = GenerateValue(c, 1024, *random);
      ASSERT_TRUE(v.has_value());
      for (const char ch : v->view()) {
        ASSERT_NE(alphabet.find(ch), std::string_view::npos) << "char " << int(ch);
      }
    }
  }
}

TEST(ValueGeneratorTest, ValuesDiffer) {
  SystemRandom random;
  auto a = GenerateValue(Charset::kAlphanumeric, 32, random);
  auto b = GenerateValue(Charset::kAlphanumeric, 32, random);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->view(), b->view());
}

// Pearson's chi-square statistic of `counts` against a uniform distribution over `alphabet`.
double ChiSquare(const std::array<uint64_t, 256>& counts, std::string_view alphabet) {
  uint64_t total = 0;
  for (const char ch : alphabet) total += counts[static_cast<uint8_t>(ch)];
  const double expected = static_cast<double>(total) / static_cast<double>(alphabet.size());
  double chi2 = 0;
  for (const char ch : alphabet) {
    const double d = static_cast<double>(counts[static_cast<uint8_t>(ch)]) - expected;
    chi2 += d * d / expected;
  }
  return chi2;
}

// The 0.9999 quantile of chi-square with `alphabet.size() - 1` degrees of freedom
// (Wilson-Hilferty approximation, z = 3.719): a fair generator exceeds it with probability
// about 1e-4, and the fixed seed makes each run give the same answer.
double ChiSquareLimit(std::string_view alphabet) {
  const double dof = static_cast<double>(alphabet.size() - 1);
  const double z = 3.719;
  return dof * std::pow(1 - 2 / (9 * dof) + z * std::sqrt(2 / (9 * dof)), 3);
}

// About 2M characters per charset.
TEST(ValueGeneratorTest, UniformChiSquare) {
  auto random = NewDeterministicRandom(20260218);
  for (const Charset c : kAllCharsets) {
    const std::string_view alphabet = CharsetAlphabet(c);
    std::array<uint64_t, 256> counts{};
    for (int i = 0; i < 2000; ++i) {
      auto v = GenerateValue(c, 1024, *random);
      ASSERT_TRUE(v.has_value());
      for (const char ch : v->view()) ++counts[static_cast<uint8_t>(ch)];
    }
    EXPECT_LT(ChiSquare(counts, alphabet), ChiSquareLimit(alphabet)) << "charset " << alphabet;
  }
}

// The same test has the power to catch the classic mistake: `byte % 62` without rejection
// makes the first 8 characters 5/4 as likely as the others.
TEST(ValueGeneratorTest, ChiSquareCatchesModuloBias) {
  auto random = NewDeterministicRandom(20260218);
  const std::string_view alphabet = CharsetAlphabet(Charset::kAlphanumeric);
  std::array<uint64_t, 256> counts{};
  std::vector<uint8_t> bytes(1 << 21);
  ASSERT_TRUE(random->Fill(bytes).ok());
  for (const uint8_t b : bytes) ++counts[static_cast<uint8_t>(alphabet[b % alphabet.size()])];
  EXPECT_GT(ChiSquare(counts, alphabet), 10 * ChiSquareLimit(alphabet));
}

TEST(ValueGeneratorTest, ReproducibleWithSeed) {
  auto a = NewDeterministicRandom(5);
  auto b = NewDeterministicRandom(5);
  auto va = GenerateValue(Charset::kBase64, 100, *a);
  auto vb = GenerateValue(Charset::kBase64, 100, *b);
  ASSERT_TRUE(va.has_value() && vb.has_value());
  EXPECT_EQ(va->view(), vb->view());
}

// A random source that fails, to check errors propagate rather than yielding a weak value.
TEST(ValueGeneratorTest, RandomFailurePropagates) {
  FailingRandom random;
  auto v = GenerateValue(Charset::kHex, 32, random);
  EXPECT_THAT(v, StatusIs(StatusCode::kInternal));
}

}  // namespace
}  // namespace coffer
