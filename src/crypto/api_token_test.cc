// Tests for API-key tokens: shape, round trip, checksum, the HMAC the store keeps, and that
// parse errors are uniform and never echo the input.
#include "crypto/api_token.h"

#include <gtest/gtest.h>

#include <array>
#include <set>

#include "common/random.h"
#include "common/status_matchers.h"

namespace coffer {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

class ApiTokenTest : public ::testing::Test {
 protected:
  std::string Mint(std::string_view kind = kTokenKindApiKey) {
    auto minted = MintToken(kind, pepper_, *random_);
    EXPECT_TRUE(minted.has_value());
    return std::string(minted->token.view());
  }

  void ExpectMalformed(std::string_view token) {
    auto parsed = ParseToken(token);
    EXPECT_THAT(parsed, StatusIs(StatusCode::kUnauthenticated, "malformed credential")) << token;
  }

  std::unique_ptr<Random> random_ = NewDeterministicRandom(99);
  SecretBuffer pepper_{std::string_view("0123456789abcdef0123456789abcdef")};
};

TEST_F(ApiTokenTest, Shape) {
  auto minted = MintToken(kTokenKindApiKey, pepper_, *random_);
  ASSERT_TRUE(minted.has_value());
  const std::string_view token = minted->token.view();
  ASSERT_EQ(token.size(), 4 + 3 + 1 + 12 + 1 + 43 + 1 + 6);
  EXPECT_TRUE(token.starts_with("cfr_key_"));
  EXPECT_EQ(token[20], '_');
  EXPECT_EQ(token[64], '_');
  EXPECT_EQ(token.substr(8, 12), minted->public_id);
  for (const size_t i : {8, 21, 65}) {
    const size_t len = i == 8 ? 12 : i == 21 ? 43 : 6;
    for (const char c : token.substr(i, len)) {
      EXPECT_NE(kBase62.find(c), std::string_view::npos) << c;
    }
  }
  EXPECT_EQ(minted->secret_hmac.size(), 32u);
  EXPECT_TRUE(LooksLikeToken(token));
}

// An independent, bitwise CRC-32 (IEEE) and base62 encoding, to pin the token format down
// without reusing the code under test.
uint32_t BitwiseCrc32(std::string_view data) {
  uint32_t crc = 0xffffffffu;
  for (const char c : data) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

std::string Base62Crc(uint32_t crc) {
  std::string out(6, '0');
  for (int i = 5; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kBase62[crc % 62];
    crc /= 62;
  }
  return out;
}

TEST_F(ApiTokenTest, ChecksumIsZeroPaddedBase62Crc32OfEverythingBeforeIt) {
  ASSERT_EQ(BitwiseCrc32("123456789"), 0xcbf43926u);  // the standard check value
  EXPECT_EQ(Base62Crc(0), "000000");
  EXPECT_EQ(Base62Crc(61), "00000z");
  EXPECT_EQ(Base62Crc(62), "000010");
  const std::string body = "cfr_key_AAAAAAAAAAAA_" + std::string(43, 'B');
  auto parsed = ParseToken(body + "_" + Base62Crc(BitwiseCrc32(body)));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, "key");
  EXPECT_EQ(parsed->public_id, "AAAAAAAAAAAA");
  EXPECT_EQ(parsed->secret.view(), std::string(43, 'B'));
  // And minted tokens follow the same rule.
  const std::string token = Mint();
  EXPECT_EQ(token.substr(65), Base62Crc(BitwiseCrc32(token.substr(0, 64))));
}

TEST_F(ApiTokenTest, RoundTrip) {
  for (const std::string_view kind : {kTokenKindApiKey, kTokenKindRotation, std::string_view("ab"),
                                      std::string_view("abcdefgh")}) {
    auto minted = MintToken(kind, pepper_, *random_);
    ASSERT_TRUE(minted.has_value()) << kind;
    auto parsed = ParseToken(minted->token.view());
    ASSERT_TRUE(parsed.has_value()) << parsed.error();
    EXPECT_EQ(parsed->kind, kind);
    EXPECT_EQ(parsed->public_id, minted->public_id);
    EXPECT_EQ(parsed->secret.size(), 43u);
    EXPECT_EQ(HmacSecret(pepper_, parsed->secret.view()), minted->secret_hmac);
  }
}

TEST_F(ApiTokenTest, TokensAreUnique) {
  SystemRandom system;
  std::set<std::string> ids;
  std::set<std::string> tokens;
  for (int i = 0; i < 2000; ++i) {
    auto minted = MintToken("key", pepper_, system);
    ASSERT_TRUE(minted.has_value());
    ids.insert(minted->public_id);
    tokens.insert(std::string(minted->token.view()));
  }
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_EQ(tokens.size(), 2000u);
}

TEST_F(ApiTokenTest, BadKindRefusedAtMint) {
  for (const std::string_view kind : {"", "k", "abcdefghi", "Key", "k_y", "k1"}) {
    auto minted = MintToken(kind, pepper_, *random_);
    EXPECT_THAT(minted, StatusIs(StatusCode::kInvalidArgument)) << kind;
  }
}

TEST_F(ApiTokenTest, ChecksumCatchesEverySingleCharacterChange) {
  const std::string token = Mint();
  size_t checked = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '_') continue;
    for (const char replacement : kBase62) {
      if (replacement == token[i]) continue;
      std::string changed = token;
      changed[i] = replacement;
      // Changes inside the kind may make it invalid for other reasons; all must be refused.
      ExpectMalformed(changed);
      ++checked;
    }
  }
  EXPECT_GT(checked, 60u * 61u);
}

TEST_F(ApiTokenTest, AdjacentSwapCaught) {
  const std::string token = Mint();
  for (size_t i = 21; i + 1 < 64; ++i) {
    if (token[i] == token[i + 1]) continue;
    std::string swapped = token;
    std::swap(swapped[i], swapped[i + 1]);
    ExpectMalformed(swapped);
  }
}

TEST_F(ApiTokenTest, MalformedShapesRefused) {
  const std::string token = Mint();
  ExpectMalformed("");
  ExpectMalformed("cfr_");
  ExpectMalformed("cfr_key");
  ExpectMalformed("Bearer " + token);
  ExpectMalformed(token + "0");
  ExpectMalformed(token.substr(0, token.size() - 1));
  ExpectMalformed(token.substr(1));
  ExpectMalformed("CFR_" + token.substr(4));
  ExpectMalformed(token + "\n");
  ExpectMalformed(" " + token);
  std::string nul = token;
  nul[30] = '\0';
  ExpectMalformed(nul);
  std::string dash = token;
  dash[30] = '-';
  ExpectMalformed(dash);
  std::string moved_sep = token;
  std::swap(moved_sep[20], moved_sep[19]);
  ExpectMalformed(moved_sep);
  ExpectMalformed("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig");
}

TEST_F(ApiTokenTest, ParseErrorNeverEchoesInput) {
  std::string token = Mint();
  token.back() = token.back() == 'A' ? 'B' : 'A';
  auto parsed = ParseToken(token);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().ToString().find(token.substr(21, 43)), std::string::npos);
  EXPECT_EQ(parsed.error().ToString().find(token.substr(8, 12)), std::string::npos);
}

TEST_F(ApiTokenTest, LooksLikeToken) {
  EXPECT_TRUE(LooksLikeToken("cfr_key_x"));
  EXPECT_FALSE(LooksLikeToken("eyJhbGciOiJIUzI1NiJ9.e30.x"));
  EXPECT_FALSE(LooksLikeToken("cfr"));
  EXPECT_FALSE(LooksLikeToken(""));
}

TEST_F(ApiTokenTest, HmacIsHmacSha256) {
  // RFC 4231 test case 2.
  const SecretBuffer key(std::string_view("Jefe"));
  const std::vector<uint8_t> mac = HmacSecret(key, "what do ya want for nothing?");
  const std::array<uint8_t, 32> expected = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                            0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                            0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                            0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  EXPECT_EQ(mac, std::vector<uint8_t>(expected.begin(), expected.end()));
  // Another pepper gives another HMAC: a stolen database without the pepper is not enough.
  const SecretBuffer other(std::string_view("Jeff"));
  EXPECT_NE(HmacSecret(other, "what do ya want for nothing?"), mac);
  EXPECT_EQ(HmacSecret(SecretBuffer(), "").size(), 32u);
}

TEST_F(ApiTokenTest, SecretCharactersAreUniform) {
  // 43 * 3000 = 129k characters over 62 symbols; chi-square with 61 dof, 0.9999 quantile ~ 112.
  std::array<uint64_t, 256> counts{};
  for (int i = 0; i < 3000; ++i) {
    auto parsed = ParseToken(Mint());
    ASSERT_TRUE(parsed.has_value());
    for (const char c : parsed->secret.view()) ++counts[static_cast<uint8_t>(c)];
  }
  const double expected = 43.0 * 3000 / 62;
  double chi2 = 0;
  for (const char c : kBase62) {
    const double d = static_cast<double>(counts[static_cast<uint8_t>(c)]) - expected;
    chi2 += d * d / expected;
  }
  EXPECT_LT(chi2, 112.0);
}

TEST_F(ApiTokenTest, RandomFailureIsInternal) {
  FailingRandom random;
  auto minted = MintToken("key", pepper_, random);
  EXPECT_THAT(minted, StatusIs(StatusCode::kInternal));
}

TEST_F(ApiTokenTest, AgentKeysAreOcvWithTheSamePartsAndImplyKindKey) {
  auto minted = MintAgentApiKey(pepper_, *random_);
  ASSERT_TRUE(minted.has_value());
  const std::string token(minted->token.view());
  ASSERT_EQ(token.size(), 4 + 12 + 1 + 43 + 1 + 6);
  EXPECT_TRUE(token.starts_with("ocv_"));
  EXPECT_EQ(token.substr(4, 12), minted->public_id);
  EXPECT_EQ(token.substr(token.size() - 6), Base62Crc(BitwiseCrc32(token.substr(0, 60))));
  EXPECT_TRUE(LooksLikeToken(token));
  auto parsed = ParseToken(token);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->kind, kTokenKindApiKey);
  EXPECT_EQ(parsed->public_id, minted->public_id);
  EXPECT_TRUE(parsed->agent_key_form);
  EXPECT_EQ(HmacSecret(pepper_, parsed->secret.view()), minted->secret_hmac);
  // The prefix is under the checksum: a cfr_ key's parts cannot be passed off as an ocv_ key's.
  const std::string cfr = Mint();
  EXPECT_FALSE(ParseToken(cfr)->agent_key_form);
  ExpectMalformed("ocv_" + cfr.substr(8));
  for (size_t i = 0; i < token.size(); ++i) {
    std::string changed = token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    ExpectMalformed(changed);
  }
}

}  // namespace
}  // namespace coffer
