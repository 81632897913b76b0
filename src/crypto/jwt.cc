// EdDSA access tokens: Ed25519 through OpenSSL's EVP interface, JSON through Boost.JSON. The
// header must say alg EdDSA and name a known kid before the signature is checked; the claims are
// read only from a token whose signature verified.
#include "crypto/jwt.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <memory>
#include <optional>

namespace coffer {
namespace {

namespace json = boost::json;

// Far above any token we sign; bounds the work spent on garbage.
constexpr size_t kMaxTokenLength = 8192;
constexpr size_t kEd25519SignatureSize = 64;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

Status Invalid() { return UnauthenticatedError("invalid token"); }

// Seconds since the epoch, rounding towards negative infinity.
int64_t ToSeconds(UnixMicros t) {
  return t >= 0 ? t / kMicrosPerSecond : -((-t + kMicrosPerSecond - 1) / kMicrosPerSecond);
}

// base64url without padding, strictly: nullopt for any other character, for a length no
// encoding has, or for non-zero spare bits.
std::optional<std::string> Base64UrlDecode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t bits = 0;
  int n = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '-') {
      v = 62;
    } else if (c == '_') {
      v = 63;
    }
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    n += 6;
    if (n >= 8) {
      n -= 8;
      out.push_back(static_cast<char>((bits >> n) & 0xff));
    }
  }
  if ((bits & ((1u << n) - 1)) != 0) return std::nullopt;
  return out;
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The JSON object `text` holds, or nullopt.
std::optional<json::object> ParseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// A non-empty string member, or nullptr.
const json::string* StringMember(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string() || v->as_string().empty()) return nullptr;
  return &v->as_string();
}

// An integer member, or nullopt.
std::optional<int64_t> IntMember(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

bool Ed25519Verify(std::span<const uint8_t> public_key, std::string_view signing_input,
                   std::string_view signature) {
  if (public_key.size() != kEd25519KeySize || signature.size() != kEd25519SignatureSize) {
    return false;
  }
  const PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  if (pkey == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return false;
  }
  const auto sig = Bytes(signature);
  const auto msg = Bytes(signing_input);
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
}

PkeyPtr PrivateKey(const SecretBuffer& seed) {
  if (seed.size() != kEd25519KeySize) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

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
    if (rest == 2) {
      out.push_back(kAlphabet[(v >> 6) & 63]);
    }
  }
  return out;
}

StatusOr<std::vector<uint8_t>> Ed25519PublicKey(const SecretBuffer& seed) {
  const PkeyPtr pkey = PrivateKey(seed);
  if (pkey == nullptr) return Err(InvalidArgumentError("an Ed25519 key must be 32 bytes"));
  std::vector<uint8_t> pub(kEd25519KeySize);
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size()) {
    return Err(InternalError("cannot derive an Ed25519 public key"));
  }
  return pub;
}

std::string Ed25519Thumbprint(std::span<const uint8_t> public_key) {
  // RFC 8037 section 2 / RFC 7638: the required members, in lexicographic order, no spaces.
  const std::string canonical =
      R"({"crv":"Ed25519","kty":"OKP","x":")" + Base64UrlNoPad(public_key) + R"("})";
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(canonical.data()), canonical.size(), digest);
  return Base64UrlNoPad(digest);
}

StatusOr<std::string> SignJwt(const JwtClaims& claims, std::string_view kid,
                              const SecretBuffer& seed) {
  const PkeyPtr pkey = PrivateKey(seed);
  if (pkey == nullptr) return Err(InternalError("token signing key is missing or malformed"));
  if (HasNul(claims.subject) || HasNul(claims.principal_kind) || HasNul(claims.credential_id) ||
      HasNul(claims.token_id)) {
    return Err(InvalidArgumentError("JWT claims must not contain NUL characters"));
  }
  json::object header;
  header["alg"] = "EdDSA";
  header["typ"] = "JWT";
  header["kid"] = kid;
  json::object payload;
  payload["iss"] = kJwtIssuer;
  payload["sub"] = claims.principal_kind + ":" + claims.subject;
  payload["knd"] = claims.principal_kind;
  payload["cid"] = claims.credential_id;
  payload["jti"] = claims.token_id;
  payload["iat"] = ToSeconds(claims.issued_at);
  payload["exp"] = ToSeconds(claims.expires_at);
  if (claims.principal_kind == "agent") {
    json::array ids;
    for (const std::string& id : claims.vault_ids) {
      // Ids are UUIDs; anything else is refused rather than signed.
      if (!std::all_of(id.begin(), id.end(),
                       [](unsigned char c) { return std::isalnum(c) != 0 || c == '-'; })) {
        return Err(InvalidArgumentError("JWT vault ids must be UUIDs"));
      }
      ids.emplace_back(id);
    }
    payload["vault_ids"] = std::move(ids);
  }
  const std::string input = Base64UrlNoPad(Bytes(json::serialize(header))) + "." +
                            Base64UrlNoPad(Bytes(json::serialize(payload)));
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  uint8_t sig[kEd25519SignatureSize];
  size_t sig_len = sizeof(sig);
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &sig_len, Bytes(input).data(), input.size()) != 1 ||
      sig_len != sizeof(sig)) {
    return Err(InternalError("cannot sign a JWT"));
  }
  return input + "." + Base64UrlNoPad({sig, sig_len});
}

StatusOr<JwtClaims> VerifyJwt(std::string_view token, std::span<const JwtVerificationKey> keys,
                              UnixMicros now) {
  if (token.empty() || token.size() > kMaxTokenLength || HasNul(token)) return Err(Invalid());
  const size_t first_dot = token.find('.');
  const size_t last_dot = token.rfind('.');
  if (first_dot == std::string_view::npos || first_dot == last_dot ||
      token.find('.', first_dot + 1) != last_dot) {
    return Err(Invalid());
  }
  const auto header_json = Base64UrlDecode(token.substr(0, first_dot));
  if (!header_json.has_value()) return Err(Invalid());
  const auto header = ParseObject(*header_json);
  if (!header.has_value()) return Err(Invalid());
  // Only EdDSA: "none", HS256 (an HMAC keyed with a public key) and everything else stop here.
  const json::string* alg = StringMember(*header, "alg");
  const json::string* kid = StringMember(*header, "kid");
  if (alg == nullptr || *alg != "EdDSA" || kid == nullptr || header->contains("crit")) {
    return Err(Invalid());
  }
  const auto key = std::find_if(keys.begin(), keys.end(), [&](const JwtVerificationKey& k) {
    return std::string_view(*kid) == k.kid;
  });
  if (key == keys.end()) return Err(Invalid());
  // An unsigned token has an empty signature and stops here.
  const auto signature = Base64UrlDecode(token.substr(last_dot + 1));
  if (!signature.has_value() ||
      !Ed25519Verify(key->public_key, token.substr(0, last_dot), *signature)) {
    return Err(Invalid());
  }

  const auto payload_json = Base64UrlDecode(token.substr(first_dot + 1, last_dot - first_dot - 1));
  if (!payload_json.has_value()) return Err(Invalid());
  const auto payload = ParseObject(*payload_json);
  if (!payload.has_value()) return Err(Invalid());
  const json::string* iss = StringMember(*payload, "iss");
  if (iss == nullptr || *iss != kJwtIssuer) return Err(Invalid());
  const json::string* sub = StringMember(*payload, "sub");
  const json::string* knd = StringMember(*payload, "knd");
  const json::string* cid = StringMember(*payload, "cid");
  const json::string* jti = StringMember(*payload, "jti");
  const auto iat = IntMember(*payload, "iat");
  const auto exp = IntMember(*payload, "exp");
  if (sub == nullptr || knd == nullptr || cid == nullptr || jti == nullptr || !iat.has_value() ||
      !exp.has_value()) {
    return Err(Invalid());
  }
  // exp is in whole seconds; the token is good strictly before that second begins. Compare in
  // seconds so that a huge exp cannot overflow the conversion to microseconds.
  if (*exp <= ToSeconds(now)) return Err(UnauthenticatedError("token expired"));
  const int64_t kMaxSeconds = INT64_MAX / kMicrosPerSecond;
  if (*iat < -kMaxSeconds || *iat > kMaxSeconds || *exp > kMaxSeconds) return Err(Invalid());

  // `<kind>:<id>`, or the bare id of a token signed before the kind was written there.
  std::string_view subject = *sub;
  const std::string kind_prefix = std::string(*knd) + ":";
  if (subject.starts_with(kind_prefix)) {
    subject.remove_prefix(kind_prefix.size());
  } else if (subject.find(':') != std::string_view::npos) {
    return Err(Invalid());
  }
  if (HasNul(subject) || HasNul(*knd) || HasNul(*cid) || HasNul(*jti)) return Err(Invalid());

  JwtClaims claims;
  claims.subject = std::string(subject);
  claims.principal_kind = std::string(*knd);
  claims.credential_id = std::string(*cid);
  claims.token_id = std::string(*jti);
  claims.issued_at = *iat * kMicrosPerSecond;
  claims.expires_at = *exp * kMicrosPerSecond;
  return claims;
}

}  // namespace coffer
