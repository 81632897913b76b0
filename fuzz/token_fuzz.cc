// API-key / rotation-secret tokens and JWTs. Checks, per input:
//  - ParseToken on the input: accepted only with the documented shape (prefix, kind, 12-char
//    public id, 43-char secret, 6-char checksum) and then LooksLikeToken agrees; a refusal is
//    the one fixed message, so it never echoes the input;
//  - a minted token parses back to its public id and a secret whose HMAC is the stored one, and
//    any one character of it changed (position and character from the input) is refused;
//  - VerifyJwt on the input: never accepted (it would need the Ed25519 key), refused with one of
//    two fixed messages;
//  - a JWT signed over claims taken from the input verifies to exactly those claims before its
//    expiry, and is refused after it, under another key, or with any one character changed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "crypto/api_token.h"
#include "crypto/jwt.h"
#include "fuzz_env.h"

namespace {

using coffer::fuzz::Check;

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr coffer::UnixMicros kNow = 1'767'225'600LL * coffer::kMicrosPerSecond;

struct Keys {
  std::unique_ptr<coffer::Random> random = coffer::NewDeterministicRandom(8);
  coffer::SecretBuffer pepper{32};
  coffer::SecretBuffer jwt_key{32};
  coffer::SecretBuffer other_key{32};
  coffer::JwtVerificationKey verify;        // jwt_key's
  coffer::JwtVerificationKey other_verify;  // other_key's
};

coffer::JwtVerificationKey VerificationKey(const coffer::SecretBuffer& seed) {
  auto pub = coffer::Ed25519PublicKey(seed);
  Check(pub.has_value(), "Ed25519 public key");
  return {coffer::Ed25519Thumbprint(*pub), *pub};
}

Keys& GetKeys() {
  static Keys* keys = [] {
    auto* k = new Keys();
    for (coffer::SecretBuffer* b : {&k->pepper, &k->jwt_key, &k->other_key}) {
      Check(k->random->Fill({b->data(), b->size()}).ok(), "random");
    }
    k->verify = VerificationKey(k->jwt_key);
    k->other_verify = VerificationKey(k->other_key);
    return k;
  }();
  return *keys;
}

bool AllOf(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

// The documented shape, checked the slow way: cfr_<kind>_<12 base62>_<43 base62>_<6 base62>.
bool HasTokenShape(std::string_view t, const coffer::ParsedToken& parsed) {
  const std::string head =
      "cfr_" + parsed.kind + "_" + parsed.public_id + "_" + std::string(parsed.secret.view()) + "_";
  return t.size() == head.size() + 6 && t.starts_with(head) && parsed.public_id.size() == 12 &&
         parsed.secret.size() == 43 && AllOf(parsed.public_id, kBase62) &&
         AllOf(parsed.secret.view(), kBase62) && AllOf(t.substr(head.size()), kBase62) &&
         !parsed.kind.empty() && AllOf(parsed.kind, "abcdefghijklmnopqrstuvwxyz");
}

// Printable ASCII, never empty: what the server itself puts in claims.
std::string ClaimText(std::string_view bytes, char fallback) {
  std::string out;
  for (char c : bytes) {
    out.push_back(static_cast<char>(0x20 + static_cast<unsigned char>(c) % 95));
  }
  return out.empty() ? std::string(1, fallback) : out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Keys& keys = GetKeys();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint16_t position = size >= 2 ? static_cast<uint16_t>(data[0] << 8 | data[1]) : 0;
  const uint8_t replacement = size >= 3 ? data[2] : 'x';

  // The input as a credential.
  if (auto parsed = coffer::ParseToken(input); parsed.has_value()) {
    Check(HasTokenShape(input, *parsed), "ParseToken accepted a token of the wrong shape");
    Check(coffer::LooksLikeToken(input), "LooksLikeToken refused a token ParseToken accepted");
  } else {
    // A fixed message: nothing of the input can be echoed.
    Check(parsed.error().message() == "malformed credential",
          "a token refusal is not the fixed message");
  }

  // A minted token, and every one-character change of it.
  auto minted = coffer::MintToken(coffer::kTokenKindApiKey, keys.pepper, *keys.random);
  Check(minted.has_value(), "MintToken failed");
  const std::string token(minted->token.view());
  {
    auto parsed = coffer::ParseToken(token);
    Check(parsed.has_value(), "a minted token does not parse");
    Check(parsed->public_id == minted->public_id, "a minted token's public id changed");
    Check(coffer::HmacSecret(keys.pepper, parsed->secret.view()) == minted->secret_hmac,
          "a minted token's secret does not match its HMAC");
    Check(HasTokenShape(token, *parsed), "a minted token has the wrong shape");
  }
  {
    std::string changed = token;
    char& c = changed[position % changed.size()];
    if (c != static_cast<char>(replacement)) {
      c = static_cast<char>(replacement);
      Check(!coffer::ParseToken(changed).has_value(), "a token with one character changed parsed");
    }
    coffer::SecureWipe(changed);
  }

  // The input as a JWT.
  {
    auto verified = coffer::VerifyJwt(input, std::span(&keys.verify, 1), kNow);
    Check(!verified.has_value(), "an unsigned input verified as a JWT");
    const std::string& why = verified.error().message();
    Check(why == "invalid token" || why == "token expired",
          "a JWT refusal is not one of the fixed messages");
  }

  // A JWT over claims from the input.
  const size_t quarter = size / 4;
  coffer::JwtClaims claims;
  claims.subject = ClaimText(input.substr(0, quarter), 's');
  claims.principal_kind = ClaimText(input.substr(quarter, quarter), 'k');
  claims.credential_id = ClaimText(input.substr(2 * quarter, quarter), 'c');
  claims.token_id = ClaimText(input.substr(3 * quarter), 'j');
  claims.issued_at = kNow - static_cast<coffer::UnixMicros>(position) * coffer::kMicrosPerSecond;
  claims.expires_at = kNow + (1 + replacement) * coffer::kMicrosPerSecond;
  auto jwt = coffer::SignJwt(claims, keys.verify.kid, keys.jwt_key);
  Check(jwt.has_value(), "SignJwt failed on printable claims");
  {
    auto verified = coffer::VerifyJwt(*jwt, std::span(&keys.verify, 1), kNow);
    Check(verified.has_value(), "a freshly signed JWT did not verify");
    Check(verified->subject == claims.subject &&
              verified->principal_kind == claims.principal_kind &&
              verified->credential_id == claims.credential_id &&
              verified->token_id == claims.token_id && verified->issued_at == claims.issued_at &&
              verified->expires_at == claims.expires_at,
          "JWT claims did not round trip");
  }
  Check(!coffer::VerifyJwt(*jwt, std::span(&keys.verify, 1), claims.expires_at).has_value(),
        "a JWT verified at its expiry");
  Check(!coffer::VerifyJwt(*jwt, std::span(&keys.other_verify, 1), kNow).has_value(),
        "a JWT verified under another key");
  {
    // Flip the most significant of the 6 bits one base64url character carries: that bit is
    // always part of the encoded bytes, so the signed content or the signature changes.
    std::string changed = *jwt;
    char& c = changed[position % changed.size()];
    const size_t value = kBase64Url.find(c);
    if (value != std::string_view::npos) {
      c = kBase64Url[value ^ 32];
      Check(!coffer::VerifyJwt(changed, std::span(&keys.verify, 1), kNow).has_value(),
            "a JWT with one character changed verified");
    }
  }
  return 0;
}
