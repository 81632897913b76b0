// Tests for EdDSA access tokens: round trip with a kid, expiry against an injected time, the
// RFC 8037 key and thumbprint vectors, and refusal of wrong or unknown keys, tampered payloads,
// unsigned ("alg":"none"), HS256 (keyed with the public key: the classic confusion) and
// other-algorithm tokens, and tokens missing claims. Hostile tokens are crafted by hand here,
// not through the code under test.
#include "crypto/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <memory>

#include "common/status_matchers.h"

namespace coffer {
namespace {

constexpr UnixMicros kIssued = 1'771'000'000 * kMicrosPerSecond;
constexpr UnixMicros kExpires = kIssued + 900 * kMicrosPerSecond;

std::string B64Url(std::string_view in) {
  return Base64UrlNoPad({reinterpret_cast<const uint8_t*>(in.data()), in.size()});
}

std::string FromB64Url(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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

// Signs header.payload with an Ed25519 seed, independently of SignJwt.
std::string CraftEdDsa(std::string_view header_json, std::string_view payload_json,
                       const SecretBuffer& seed) {
  const std::string input = B64Url(header_json) + "." + B64Url(payload_json);
  EVP_PKEY* pkey =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint8_t sig[64];
  size_t len = sizeof(sig);
  EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey);
  EVP_DigestSign(ctx, sig, &len, reinterpret_cast<const uint8_t*>(input.data()), input.size());
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return input + "." + Base64UrlNoPad({sig, len});
}

std::string CraftHmac(const EVP_MD* md, std::string_view header_json, std::string_view payload_json,
                      std::span<const uint8_t> key) {
  const std::string input = B64Url(header_json) + "." + B64Url(payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(input.data()),
       input.size(), mac, &len);
  return input + "." + Base64UrlNoPad({mac, len});
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
  void SetUp() override {
    for (auto* k : {&key_, &other_key_}) {
      auto pub = Ed25519PublicKey(k->seed);
      ASSERT_THAT(pub, IsOk());
      k->verify.kid = Ed25519Thumbprint(*pub);
      k->verify.public_key = *pub;
    }
  }

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

  std::string Header() const {
    return R"({"alg":"EdDSA","typ":"JWT","kid":")" + key_.verify.kid + R"("})";
  }

  StatusOr<std::string> Sign(const JwtClaims& c) const {
    return SignJwt(c, key_.verify.kid, key_.seed);
  }
  StatusOr<JwtClaims> Verify(const std::string& token, UnixMicros now) const {
    return VerifyJwt(token, std::span(&key_.verify, 1), now);
  }

  void ExpectRefused(const std::string& token, UnixMicros now = kIssued,
                     std::string_view reason = "invalid token") {
    auto claims = Verify(token, now);
    ASSERT_THAT(claims, StatusIs(StatusCode::kUnauthenticated, reason)) << token;
    if (token.size() > 8) {
      EXPECT_EQ(claims.error().ToString().find(token), std::string::npos);
    }
  }

  struct Key {
    SecretBuffer seed;
    JwtVerificationKey verify;
  };
  Key key_{SecretBuffer(std::string_view("an Ed25519 seed of just 32 bytes")), {}};
  Key other_key_{SecretBuffer(std::string_view("another seed, also of 32 bytes!!")), {}};
};

TEST(Ed25519Test, Rfc8037Vectors) {
  // RFC 8037 appendix A.1 (key pair) and A.3 (JWK thumbprint).
  const std::string d = FromB64Url("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
  auto pub = Ed25519PublicKey(SecretBuffer(std::string_view(d)));
  ASSERT_THAT(pub, IsOk());
  EXPECT_EQ(Base64UrlNoPad(*pub), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  EXPECT_EQ(Ed25519Thumbprint(*pub), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  EXPECT_THAT(Ed25519PublicKey(SecretBuffer(std::string_view("short"))),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(JwtTest, RoundTrip) {
  auto token = Sign(Claims());
  ASSERT_TRUE(token.has_value()) << token.error();
  EXPECT_EQ(std::count(token->begin(), token->end(), '.'), 2);
  auto claims = Verify(*token, kIssued + 1);
  ASSERT_TRUE(claims.has_value()) << claims.error();
  EXPECT_EQ(claims->subject, "user-1");
  EXPECT_EQ(claims->principal_kind, "user");
  EXPECT_EQ(claims->credential_id, "pub123");
  EXPECT_EQ(claims->token_id, "t-1");
  EXPECT_EQ(claims->issued_at, kIssued);
  EXPECT_EQ(claims->expires_at, kExpires);
}

TEST_F(JwtTest, HeaderIsEdDsaWithTheKid) {
  auto token = Sign(Claims());
  ASSERT_TRUE(token.has_value());
  const std::string header = FromB64Url(token->substr(0, token->find('.')));
  EXPECT_NE(header.find(R"("alg":"EdDSA")"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("kid":")" + key_.verify.kid + "\""), std::string::npos) << header;
}

TEST_F(JwtTest, TimesAreWholeSeconds) {
  JwtClaims c = Claims();
  c.issued_at = kIssued + 999'999;
  c.expires_at = kExpires + 500'000;
  auto token = Sign(c);
  ASSERT_TRUE(token.has_value());
  auto claims = Verify(*token, kIssued);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->issued_at, kIssued);
  EXPECT_EQ(claims->expires_at, kExpires);
}

TEST_F(JwtTest, ExpiryIsExclusive) {
  auto token = Sign(Claims());
  ASSERT_TRUE(token.has_value());
  EXPECT_TRUE(Verify(*token, kExpires - 1).has_value());
  ExpectRefused(*token, kExpires, "token expired");
  ExpectRefused(*token, kExpires + 3600 * kMicrosPerSecond, "token expired");
}

TEST_F(JwtTest, WrongOrUnknownKeyRefused) {
  // Signed by another key under this key's kid.
  ExpectRefused(CraftEdDsa(Header(), Payload(), other_key_.seed));
  // Signed by another key, naming it: its kid is not among the accepted ones.
  auto other = SignJwt(Claims(), other_key_.verify.kid, other_key_.seed);
  ASSERT_TRUE(other.has_value());
  ExpectRefused(*other);
  // Both keys accepted (a rotation's previous key): either verifies.
  const JwtVerificationKey both[] = {key_.verify, other_key_.verify};
  EXPECT_THAT(VerifyJwt(*other, both, kIssued), IsOk());
  // No kid at all.
  ExpectRefused(CraftEdDsa(R"({"alg":"EdDSA","typ":"JWT"})", Payload(), key_.seed));
}

TEST_F(JwtTest, HandCraftedTokenAccepted) {
  // The crafting helper builds what the verifier accepts, so the refusals that follow are
  // refusals for the stated reason.
  auto claims = Verify(CraftEdDsa(Header(), Payload(), key_.seed), kIssued);
  ASSERT_TRUE(claims.has_value()) << claims.error();
  EXPECT_EQ(claims->subject, "user-1");
}

TEST_F(JwtTest, UnsignedAlgNoneRefused) {
  const std::string kid = key_.verify.kid;
  const std::string unsigned_token =
      B64Url(R"({"alg":"none","typ":"JWT","kid":")" + kid + R"("})") + "." + B64Url(Payload()) +
      ".";
  ExpectRefused(unsigned_token);
  ExpectRefused(unsigned_token.substr(0, unsigned_token.size() - 1));
  ExpectRefused(B64Url(R"({"alg":"NONE"})") + "." + B64Url(Payload()) + ".");
  ExpectRefused(B64Url(R"({"typ":"JWT"})") + "." + B64Url(Payload()) + ".");
  // "none" with a valid Ed25519 signature over it.
  ExpectRefused(CraftEdDsa(R"({"alg":"none","kid":")" + kid + R"("})", Payload(), key_.seed));
}

TEST_F(JwtTest, Hs256AndOtherAlgorithmsRefused) {
  const std::string kid = key_.verify.kid;
  // HS256 keyed with the public key (known to everyone): the classic key-confusion attempt.
  for (const EVP_MD* md : {EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
    for (const std::string alg : {"HS256", "HS384", "HS512", "EdDSA"}) {
      ExpectRefused(CraftHmac(md, R"({"alg":")" + alg + R"(","kid":")" + kid + R"("})", Payload(),
                              key_.verify.public_key));
    }
  }
  for (const std::string alg : {"RS256", "ES256", "Ed25519", "eddsa", "PS256"}) {
    ExpectRefused(
        CraftEdDsa(R"({"alg":")" + alg + R"(","kid":")" + kid + R"("})", Payload(), key_.seed));
  }
  // A critical extension this verifier does not know.
  ExpectRefused(CraftEdDsa(R"({"alg":"EdDSA","kid":")" + kid + R"(","crit":["x"],"x":1})",
                           Payload(), key_.seed));
}

TEST_F(JwtTest, TamperedPayloadRefused) {
  auto token = Sign(Claims());
  ASSERT_TRUE(token.has_value());
  const size_t dot1 = token->find('.');
  const size_t dot2 = token->rfind('.');
  const std::string forged = token->substr(0, dot1 + 1) +
                             B64Url(Payload().replace(Payload().find("user-1"), 6, "admin1")) +
                             token->substr(dot2);
  ExpectRefused(forged);
  for (size_t i = 0; i < token->size(); ++i) {
    if ((*token)[i] == '.') continue;
    std::string changed = *token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(Verify(changed, kIssued).has_value()) << "position " << i;
  }
}

TEST_F(JwtTest, WrongIssuerOrMissingClaimsRefused) {
  std::string wrong_iss = Payload();
  wrong_iss.replace(wrong_iss.find("coffer"), 6, "evilco");
  ExpectRefused(CraftEdDsa(Header(), wrong_iss, key_.seed));
  for (const std::string_view claim : {"iss", "sub", "knd", "cid", "jti", "iat"}) {
    std::string p = Payload();
    const size_t at = p.find(std::string("\"") + std::string(claim) + "\"");
    ASSERT_NE(at, std::string::npos);
    p.replace(at + 1, 3, "xxx");  // renames the claim
    ExpectRefused(CraftEdDsa(Header(), p, key_.seed));
  }
  ExpectRefused(CraftEdDsa(Header(), Payload("", /*with_exp=*/false), key_.seed));
  ExpectRefused(CraftEdDsa(Header(),
                           R"({"iss":"coffer","sub":"","knd":"user","cid":"c","jti":"j",)"
                           R"("iat":1,"exp":1771000900})",
                           key_.seed));
  ExpectRefused(CraftEdDsa(Header(),
                           R"({"iss":"coffer","sub":"u","knd":"user","cid":"c",)"
                           R"("jti":"j","iat":1,"exp":"1771000900"})",
                           key_.seed));
  ExpectRefused(CraftEdDsa(Header(), "not json", key_.seed));
  ExpectRefused(CraftEdDsa("not json", Payload(), key_.seed));
}

TEST_F(JwtTest, GarbageRefused) {
  for (const std::string& token :
       {std::string(), std::string("."), std::string(".."), std::string("a.b"),
        std::string("a.b.c.d"), std::string("cfr_key_abc"), std::string(10000, 'a'),
        std::string("a\0b.c.d", 7), std::string("e30.e30.!!!")}) {
    ExpectRefused(token);
  }
}

TEST_F(JwtTest, MalformedSeedIsInternal) {
  EXPECT_THAT(SignJwt(Claims(), "kid", SecretBuffer()), StatusIs(StatusCode::kInternal));
}

TEST_F(JwtTest, SubjectNamesTheKindAndAgentsCarryTheirVaultIds) {
  JwtClaims c = Claims();
  c.subject = "7f1c0000-0000-4000-8000-000000000001";
  c.principal_kind = "agent";
  c.vault_ids = {"0a000000-0000-4000-8000-000000000001", "0b000000-0000-4000-8000-000000000002"};
  auto token = Sign(c);
  ASSERT_THAT(token, IsOk());
  const auto payload_of = [](const std::string& t) {
    const size_t a = t.find('.');
    return FromB64Url(t.substr(a + 1, t.rfind('.') - a - 1));
  };
  const std::string payload = payload_of(*token);
  EXPECT_NE(payload.find(R"("sub":"agent:7f1c0000-0000-4000-8000-000000000001")"),
            std::string::npos)
      << payload;
  EXPECT_NE(payload.find(R"("vault_ids":["0a000000-0000-4000-8000-000000000001",)"
                         R"("0b000000-0000-4000-8000-000000000002"])"),
            std::string::npos)
      << payload;
  auto claims = Verify(*token, kIssued);
  ASSERT_THAT(claims, IsOk());
  EXPECT_EQ(claims->subject, c.subject) << "the kind is not part of the subject read back";

  auto user = Sign(Claims());
  ASSERT_THAT(user, IsOk());
  EXPECT_NE(payload_of(*user).find(R"("sub":"user:user-1")"), std::string::npos);
  EXPECT_EQ(payload_of(*user).find("vault_ids"), std::string::npos);
  c.vault_ids = {R"(x","admin":true,"y":")"};
  EXPECT_THAT(Sign(c), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(JwtTest, ASubjectOfAnotherKindIsRefused) {
  ExpectRefused(CraftEdDsa(
      Header(),
      R"({"iss":"coffer","sub":"agent:user-1","knd":"user","cid":"pub123","jti":"t-1","iat":)" +
          std::to_string(kIssued / kMicrosPerSecond) + R"(,"exp":)" +
          std::to_string(kExpires / kMicrosPerSecond) + "}",
      key_.seed));
}

}  // namespace
}  // namespace coffer
