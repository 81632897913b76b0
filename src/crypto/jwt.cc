// HS256 access tokens through libjwt. Verification recomputes the HMAC itself and compares it in
// constant time before libjwt parses the token, then insists on alg HS256 and checks the claims.
#include "crypto/jwt.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace coffer {
namespace {

constexpr const char* kIssuer = "coffer";
// Far above any token we sign; bounds the work spent on garbage.
constexpr size_t kMaxTokenLength = 8192;

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

Status Invalid() { return UnauthenticatedError("invalid token"); }

// Seconds since the epoch, rounding towards negative infinity.
long ToSeconds(UnixMicros t) {
  return static_cast<long>(t >= 0 ? t / kMicrosPerSecond
                                  : -((-t + kMicrosPerSecond - 1) / kMicrosPerSecond));
}

std::string Base64UrlNoPad(std::span<const uint8_t> in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (rest == 2 ? uint32_t{in[i + 1]} << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

// True when `signature` is the base64url HS256 signature of `signing_input` under `key`.
// libjwt 1.10 compares signatures with strcmp, which leaks timing; this comparison does not.
bool Hs256SignatureMatches(std::string_view signing_input, std::string_view signature,
                           const SecretBuffer& key) {
  static constexpr uint8_t kEmpty = 0;
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const uint8_t*>(signing_input.data()), signing_input.size(), mac,
           &mac_len) == nullptr) {
    return false;
  }
  std::string expected = Base64UrlNoPad({mac, mac_len});
  SecureWipe(mac, sizeof(mac));
  const bool match = ConstantTimeEquals(std::string_view(expected), signature);
  SecureWipe(expected);
  return match;
}

// A string claim, or nullptr when absent, not a string, or empty.
const char* StringClaim(jwt_t* jwt, const char* name) {
  const char* value = jwt_get_grant(jwt, name);
  return value != nullptr && value[0] != '\0' ? value : nullptr;
}

// An integer claim, or false when absent or not an integer.
bool IntClaim(jwt_t* jwt, const char* name, long& out) {
  errno = 0;
  out = jwt_get_grant_int(jwt, name);
  return errno == 0;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

StatusOr<std::string> SignJwt(const JwtClaims& claims, const SecretBuffer& key) {
  if (key.empty() || key.size() > INT_MAX) return Err(InternalError("JWT signing key is empty"));
  if (HasNul(claims.subject) || HasNul(claims.principal_kind) || HasNul(claims.credential_id) ||
      HasNul(claims.token_id)) {
    return Err(InvalidArgumentError("JWT claims must not contain NUL characters"));
  }
  const std::string subject = claims.principal_kind + ":" + claims.subject;
  // Ids are UUIDs; anything that would need escaping in JSON is refused rather than escaped.
  std::string vault_ids_json = R"({"vault_ids":[)";
  for (size_t i = 0; i < claims.vault_ids.size(); ++i) {
    const std::string& id = claims.vault_ids[i];
    if (!std::all_of(id.begin(), id.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '-'; })) {
      return Err(InvalidArgumentError("JWT vault ids must be UUIDs"));
    }
    vault_ids_json += (i == 0 ? "\"" : ",\"") + id + "\"";
  }
  vault_ids_json += "]}";
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) return Err(InternalError("cannot create a JWT"));
  const JwtPtr jwt(raw);
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, key.data(), static_cast<int>(key.size())) != 0 ||
      jwt_add_grant(jwt.get(), "iss", kIssuer) != 0 ||
      jwt_add_grant(jwt.get(), "sub", subject.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "knd", claims.principal_kind.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "cid", claims.credential_id.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "jti", claims.token_id.c_str()) != 0 ||
      jwt_add_grant_int(jwt.get(), "iat", ToSeconds(claims.issued_at)) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", ToSeconds(claims.expires_at)) != 0 ||
      (claims.principal_kind == "agent" &&
       jwt_add_grants_json(jwt.get(), vault_ids_json.c_str()) != 0)) {
    return Err(InternalError("cannot build a JWT"));
  }
  char* encoded = jwt_encode_str(jwt.get());
  if (encoded == nullptr) return Err(InternalError("cannot sign a JWT"));
  const size_t encoded_len = std::strlen(encoded);
  std::string token(encoded, encoded_len);
  // libjwt 1.10 has no jwt_free_str; its strings come from malloc.
  SecureWipe(encoded, encoded_len);
  std::free(encoded);
  return token;
}

StatusOr<JwtClaims> VerifyJwt(std::string_view token, const SecretBuffer& key, UnixMicros now) {
  if (key.empty() || key.size() > INT_MAX) return Err(InternalError("JWT signing key is empty"));
  if (token.empty() || token.size() > kMaxTokenLength || HasNul(token)) return Err(Invalid());
  const size_t first_dot = token.find('.');
  const size_t last_dot = token.rfind('.');
  if (first_dot == std::string_view::npos || first_dot == last_dot ||
      token.find('.', first_dot + 1) != last_dot) {
    return Err(Invalid());
  }
  // An unsigned ("alg":"none") token has an empty signature and stops here.
  if (!Hs256SignatureMatches(token.substr(0, last_dot), token.substr(last_dot + 1), key)) {
    return Err(Invalid());
  }

  std::string terminated(token);  // libjwt wants a NUL-terminated string
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, terminated.c_str(), key.data(), static_cast<int>(key.size()));
  SecureWipe(terminated);
  const JwtPtr jwt(raw);
  if (rc != 0 || jwt == nullptr) return Err(Invalid());
  // Belt and braces: whatever the header claimed, only HS256 is accepted.
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return Err(Invalid());

  const char* iss = jwt_get_grant(jwt.get(), "iss");
  if (iss == nullptr || std::strcmp(iss, kIssuer) != 0) return Err(Invalid());
  const char* sub = StringClaim(jwt.get(), "sub");
  const char* knd = StringClaim(jwt.get(), "knd");
  const char* cid = StringClaim(jwt.get(), "cid");
  const char* jti = StringClaim(jwt.get(), "jti");
  long iat = 0;
  long exp = 0;
  if (sub == nullptr || knd == nullptr || cid == nullptr || jti == nullptr ||
      !IntClaim(jwt.get(), "iat", iat) || !IntClaim(jwt.get(), "exp", exp)) {
    return Err(Invalid());
  }
  // exp is in whole seconds; the token is good strictly before that second begins. Compare in
  // seconds so that a huge exp cannot overflow the conversion to microseconds.
  if (exp <= ToSeconds(now)) return Err(UnauthenticatedError("token expired"));

  // `<kind>:<id>`, or the bare id of a token signed before the kind was written there.
  std::string_view subject = sub;
  const std::string kind_prefix = std::string(knd) + ":";
  if (subject.starts_with(kind_prefix)) {
    subject.remove_prefix(kind_prefix.size());
  } else if (subject.find(':') != std::string_view::npos) {
    return Err(Invalid());
  }

  JwtClaims claims;
  claims.subject = std::string(subject);
  claims.principal_kind = knd;
  claims.credential_id = cid;
  claims.token_id = jti;
  claims.issued_at = static_cast<UnixMicros>(iat) * kMicrosPerSecond;
  claims.expires_at = static_cast<UnixMicros>(exp) * kMicrosPerSecond;
  return claims;
}

}  // namespace coffer
