// The public token verification keys, unauthenticated: GET /v1/auth/jwt-public-key (the current
// Ed25519 key), GET /.well-known/jwks.json (RFC 7517 OKP keys: the current key and the replaced
// ones that still verify tokens) and GET /.well-known/openid-configuration (discovery).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>

#include "api/handler.h"
#include "api/routes.h"

namespace coffer::api {
namespace {

// A client may cache these briefly; a rotation shows within this many seconds.
constexpr std::string_view kCacheControl = "public, max-age=60";

std::string Base64Std(std::span<const uint8_t> in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    for (const int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (rest == 2 ? uint32_t{in[i + 1]} << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

http::Response Cacheable(http::Response r) {
  r.headers.emplace_back("Cache-Control", std::string(kCacheControl));
  return r;
}

// The origin the client reached this server at, as far as its request says.
std::string Origin(const http::Request& req) {
  const auto proto = req.Header("x-forwarded-proto");
  const std::string scheme = proto.has_value() && *proto == "https" ? "https" : "http";
  const auto host = req.Header("host");
  return scheme + "://" + std::string(host.value_or("localhost"));
}

}  // namespace

void RegisterTokenKeyRoutes(http::Router& router, const ApiServices& api) {
  AuthService& auth = api.auth;
  router.Add("GET", "/v1/auth/jwt-public-key",
             Public([&auth](auto&, auto&) -> StatusOr<http::Response> {
               const std::vector<PublicTokenKey> keys = auth.TokenPublicKeys();
               if (keys.empty() || !keys.front().current) {
                 return Err(UnavailableError("no token signing key is loaded yet"));
               }
               boost::json::object o;
               o["alg"] = "EdDSA";
               o["kid"] = keys.front().kid;
               o["public_key_base64"] = Base64Std(keys.front().public_key);
               return Cacheable(JsonResponse(200, o));
             }));
  router.Add("GET", "/.well-known/jwks.json",
             Public([&auth](auto&, auto&) -> StatusOr<http::Response> {
               boost::json::array keys;
               for (const PublicTokenKey& key : auth.TokenPublicKeys()) {
                 keys.push_back(boost::json::object{{"kty", "OKP"},
                                                    {"crv", "Ed25519"},
                                                    {"x", Base64UrlNoPad(key.public_key)},
                                                    {"kid", key.kid},
                                                    {"use", "sig"},
                                                    {"alg", "EdDSA"}});
               }
               http::Response r = JsonResponse(200, boost::json::object{{"keys", keys}});
               r.content_type = "application/jwk-set+json";
               return Cacheable(std::move(r));
             }));
  router.Add("GET", "/.well-known/openid-configuration",
             Public([](auto& req, auto&) -> StatusOr<http::Response> {
               const std::string origin = Origin(req);
               boost::json::object o;
               // The `iss` claim of every token Coffer signs.
               o["issuer"] = kJwtIssuer;
               o["jwks_uri"] = origin + "/.well-known/jwks.json";
               o["token_endpoint"] = origin + "/v1/auth/token";
               o["grant_types_supported"] = boost::json::array{"urn:coffer:api-key"};
               o["response_types_supported"] = boost::json::array{"token"};
               o["subject_types_supported"] = boost::json::array{"public"};
               o["id_token_signing_alg_values_supported"] = boost::json::array{"EdDSA"};
               o["token_endpoint_auth_methods_supported"] = boost::json::array{"none"};
               o["claims_supported"] =
                   boost::json::array{"iss", "sub", "knd", "cid", "jti", "iat", "exp", "vault_ids"};
               return Cacheable(JsonResponse(200, o));
             }));
}

}  // namespace coffer::api
