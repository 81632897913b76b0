// Tests for HS256 access tokens: round trip, expiry against an injected time, and refusal of
// wrong keys, tampered payloads, unsigned ("alg":"none") and other-algorithm tokens, and tokens
// missing claims. Hostile tokens are crafted by hand here, not through the code under test.
#include "crypto/jwt.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>

#include "common/status_matchers.h"

namespace coffer {
namespace {

constexpr UnixMicros kIssued = 1'771'000'000 * kMicrosPerSecond;
constexpr UnixMicros kExpires = kIssued + 900 * kMicrosPerSecond;

std::string B64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : in) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

std::string HmacB64(const EVP_MD* md, const SecretBuffer& key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), mac, &len);
  return B64Url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

// header.payload.signature with the signature an HS256 verifier expects for `key`.
std::string CraftHs256(std::string_view header_json, std::string_view payload_json,
                       const SecretBuffer& key) {
  const std::string input = B64Url(header_json) + "." + B64Url(payload_json);
  return input + "." + HmacB64(EVP_sha256(), key, input);
}

std::string Payload(std::string_view extra = "", bool with_exp = true) {
  std::string p = R"({"iss":"coffer","sub":"user-1","knd":"user","cid":"pub123","jti":"t-1",)";
  p += R"("iat":1771000000)";
  if (with_exp) p += R"(,"exp":1771000900)";
  p += extra;
  p += "}";
  return p;
}

class JwtTest : public ::testing::Test {
 protected:
  JwtClaims Claims() const {
    JwtClaims c;
    c.subject = "user-1";
    c.principal_kind = "user";
    c.credential_id = "pub123";
    c.token_id = "t-1";
    c.issued_at = kIssued;
    c.expires_at = kExpires;
    return c;
  }

  void ExpectRefused(const std::string& token, UnixMicros now = kIssued,
                     std::string_view reason = "invalid token") {
    auto claims = VerifyJwt(token, key_, now);
    ASSERT_THAT(claims, StatusIs(StatusCode::kUnauthenticated, reason)) << token;
    if (token.size() > 8) {
      EXPECT_EQ(claims.error().ToString().find(token), std::string::npos);
    }
  }

  SecretBuffer key_{std::string_view("an HS256 key of exactly 32 bytes")};
  SecretBuffer other_key_{std::string_view("another key, also of 32 bytes!!!")};
};

TEST_F(JwtTest, RoundTrip) {
  auto token = SignJwt(Claims(), key_);
  ASSERT_TRUE(token.has_value()) << token.error();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 2);
  auto claims = VerifyJwt(*token, key_, kIssued + 1);
  ASSERT_TRUE(claims.has_value()) << claims.error();
  EXPECT_EQ(claims->subject, "user-1");
  EXPECT_EQ(claims->principal_kind, "user");
  EXPECT_EQ(claims->credential_id, "pub123");
  EXPECT_EQ(claims->token_id, "t-1");
  EXPECT_EQ(claims->issued_at, kIssued);
  EXPECT_EQ(claims->expires_at, kExpires);
}

TEST_F(JwtTest, TimesAreWholeSeconds) {
  JwtClaims c = Claims();
  c.issued_at = kIssued + 999'999;
  c.expires_at = kExpires + 500'000;
  auto token = SignJwt(c, key_);
  ASSERT_TRUE(token.has_value());
  auto claims = VerifyJwt(*token, key_, kIssued);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->issued_at, kIssued);
  EXPECT_EQ(claims->expires_at, kExpires);
}

TEST_F(JwtTest, ExpiryIsExclusive) {
  auto token = SignJwt(Claims(), key_);
  ASSERT_TRUE(token.has_value());
  EXPECT_TRUE(VerifyJwt(*token, key_, kExpires - 1).has_value());
  ExpectRefused(*token, kExpires, "token expired");
  ExpectRefused(*token, kExpires + 1, "token expired");
  ExpectRefused(*token, kExpires + 3600 * kMicrosPerSecond, "token expired");
}

TEST_F(JwtTest, HeaderIsHs256) {
  auto token = SignJwt(Claims(), key_);
  ASSERT_TRUE(token.has_value());
  jwt_t* jwt = nullptr;
  ASSERT_EQ(jwt_decode(&jwt, token->c_str(), key_.data(), static_cast<int>(key_.size())), 0);
  EXPECT_EQ(jwt_get_alg(jwt), JWT_ALG_HS256);
  EXPECT_STREQ(jwt_get_grant(jwt, "iss"), "coffer");
  jwt_free(jwt);
}

TEST_F(JwtTest, WrongKeyRefused) {
  auto token = SignJwt(Claims(), key_);
  ASSERT_TRUE(token.has_value());
  auto claims = VerifyJwt(*token, other_key_, kIssued);
  EXPECT_THAT(claims, StatusIs(StatusCode::kUnauthenticated));
}

TEST_F(JwtTest, HandCraftedTokenAccepted) {
  // Confirms the crafting helpers below build what a real HS256 verifier accepts, so the
  // refusals that follow are refusals for the stated reason.
  const std::string token = CraftHs256(R"({"alg":"HS256","typ":"JWT"})", Payload(), key_);
  auto claims = VerifyJwt(token, key_, kIssued);
  ASSERT_TRUE(claims.has_value()) << claims.error();
  EXPECT_EQ(claims->subject, "user-1");
}

TEST_F(JwtTest, UnsignedAlgNoneRefused) {
  const std::string unsigned_token =
      B64Url(R"({"alg":"none","typ":"JWT"})") + "." + B64Url(Payload()) + ".";
  ExpectRefused(unsigned_token);
  ExpectRefused(unsigned_token.substr(0, unsigned_token.size() - 1));
  ExpectRefused(B64Url(R"({"alg":"NONE"})") + "." + B64Url(Payload()) + ".");
  ExpectRefused(B64Url(R"({"typ":"JWT"})") + "." + B64Url(Payload()) + ".");
}

TEST_F(JwtTest, AlgNoneWithValidMacRefused) {
  // Even carrying a correct HMAC, a token whose header says "none" is not accepted.
  ExpectRefused(CraftHs256(R"({"alg":"none","typ":"JWT"})", Payload(), key_));
}

TEST_F(JwtTest, OtherAlgorithmsRefused) {
  // HS384 and HS512 signed with the very same key.
  for (const jwt_alg_t alg : {JWT_ALG_HS384, JWT_ALG_HS512}) {
    jwt_t* jwt = nullptr;
    ASSERT_EQ(jwt_new(&jwt), 0);
    ASSERT_EQ(jwt_set_alg(jwt, alg, key_.data(), static_cast<int>(key_.size())), 0);
    ASSERT_EQ(jwt_add_grants_json(jwt, Payload().c_str()), 0);
    char* encoded = jwt_encode_str(jwt);
    ASSERT_NE(encoded, nullptr);
    const std::string token(encoded);
    std::free(encoded);
    jwt_free(jwt);
    ExpectRefused(token);
  }
  const std::string header_input =
      B64Url(R"({"alg":"HS384","typ":"JWT"})") + "." + B64Url(Payload());
  ExpectRefused(header_input + "." + HmacB64(EVP_sha384(), key_, header_input));
  // A header claiming RS256 with an HS256 MAC: the classic key-confusion attempt.
  ExpectRefused(CraftHs256(R"({"alg":"RS256","typ":"JWT"})", Payload(), key_));
}

TEST_F(JwtTest, TamperedPayloadRefused) {
  auto token = SignJwt(Claims(), key_);
  ASSERT_TRUE(token.has_value());
  const size_t dot1 = token->find('.');
  const size_t dot2 = token->rfind('.');
  // Swap in a payload naming another subject, keeping header and signature.
  const std::string forged = token->substr(0, dot1 + 1) +
                             B64Url(Payload().replace(Payload().find("user-1"), 6, "admin1")) +
                             token->substr(dot2);
  ExpectRefused(forged);
  // Flip every character of the token in turn.
  for (size_t i = 0; i < token->size(); ++i) {
    if ((*token)[i] == '.') continue;
    std::string changed = *token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    auto claims = VerifyJwt(changed, key_, kIssued);
    EXPECT_FALSE(claims.has_value()) << "position " << i;
  }
}

TEST_F(JwtTest, WrongIssuerOrMissingClaimsRefused) {
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  std::string wrong_iss = Payload();
  wrong_iss.replace(wrong_iss.find("coffer"), 6, "evilco");
  ExpectRefused(CraftHs256(header, wrong_iss, key_));
  for (const std::string_view claim : {"iss", "sub", "knd", "cid", "jti", "iat"}) {
    std::string p = Payload();
    const size_t at = p.find(std::string("\"") + std::string(claim) + "\"");
    ASSERT_NE(at, std::string::npos);
    p.replace(at + 1, 3, "xxx");  // renames the claim
    ExpectRefused(CraftHs256(header, p, key_));
  }
  ExpectRefused(CraftHs256(header, Payload("", /*with_exp=*/false), key_));
  ExpectRefused(CraftHs256(header,
                           R"({"iss":"coffer","sub":"","knd":"user","cid":"c","jti":"j",)"
                           R"("iat":1,"exp":1771000900})",
                           key_));
  ExpectRefused(CraftHs256(header, "not json", key_));
  ExpectRefused(CraftHs256("not json", Payload(), key_));
}

TEST_F(JwtTest, GarbageRefused) {
  for (const std::string& token :
       {std::string(), std::string("."), std::string(".."), std::string("a.b"),
        std::string("a.b.c.d"), std::string("cfr_key_abc"), std::string(10000, 'a'),
        std::string("a\0b.c.d", 7)}) {
    ExpectRefused(token);
  }
}

TEST_F(JwtTest, EmptyKeyIsInternal) {
  SecretBuffer empty;
  EXPECT_THAT(SignJwt(Claims(), empty), StatusIs(StatusCode::kInternal));
}

// The JSON payload of a compact JWT (not verified).
std::string DecodedPayload(std::string_view token) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t a = token.find('.');
  const std::string_view in = token.substr(a + 1, token.rfind('.') - a - 1);
  std::string out;
  uint32_t bits = 0;
  int n = 0;
  for (const char c : in) {
    bits = (bits << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    n += 6;
    if (n >= 8) {
      n -= 8;
      out.push_back(static_cast<char>((bits >> n) & 0xff));
    }
  }
  return out;
}

TEST_F(JwtTest, SubjectNamesTheKindAndAgentsCarryTheirVaultIds) {
  JwtClaims c = Claims();
  c.subject = "7f1c0000-0000-4000-8000-000000000001";
  c.principal_kind = "agent";
  c.vault_ids = {"0a000000-0000-4000-8000-000000000001", "0b000000-0000-4000-8000-000000000002"};
  auto token = SignJwt(c, key_);
  ASSERT_THAT(token, IsOk());
  const std::string payload = DecodedPayload(*token);
  EXPECT_NE(payload.find(R"("sub":"agent:7f1c0000-0000-4000-8000-000000000001")"),
            std::string::npos)
      << payload;
  EXPECT_NE(payload.find(R"("vault_ids":["0a000000-0000-4000-8000-000000000001",)"
                         R"("0b000000-0000-4000-8000-000000000002"])"),
            std::string::npos)
      << payload;
  auto claims = VerifyJwt(*token, key_, kIssued);
  ASSERT_THAT(claims, IsOk());
  EXPECT_EQ(claims->subject, c.subject) << "the kind is not part of the subject read back";

  // A user's token has no vault_ids; a vault id that is not a UUID is refused, not escaped.
  auto user = SignJwt(Claims(), key_);
  ASSERT_THAT(user, IsOk());
  EXPECT_NE(DecodedPayload(*user).find(R"("sub":"user:user-1")"), std::string::npos);
  EXPECT_EQ(DecodedPayload(*user).find("vault_ids"), std::string::npos);
  c.vault_ids = {R"(x","admin":true,"y":")"};
  EXPECT_THAT(SignJwt(c, key_), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(JwtTest, ASubjectOfAnotherKindIsRefused) {
  // knd says user, sub says agent: never taken for either.
  const std::string token = CraftHs256(
      R"({"alg":"HS256","typ":"JWT"})",
      R"({"iss":"coffer","sub":"agent:user-1","knd":"user","cid":"pub123","jti":"t-1","iat":)" +
          std::to_string(kIssued / kMicrosPerSecond) + R"(,"exp":)" +
          std::to_string(kExpires / kMicrosPerSecond) + "}",
      key_);
  ExpectRefused(token);
}

}  // namespace
}  // namespace coffer
