// Credential verification and bootstrap of a new store.
#include "service/auth_service.h"

#include "common/ids.h"
#include "crypto/api_token.h"
#include "crypto/jwt.h"

namespace coffer {
namespace {

constexpr std::string_view kBearer = "Bearer ";

Status Unauthenticated() { return UnauthenticatedError("invalid credentials"); }

}  // namespace

StatusOr<Principal> AuthService::Authenticate(std::optional<std::string_view> header) {
  if (!header.has_value() || header->empty()) {
    return Err(UnauthenticatedError("missing Authorization header (use: Bearer <token>)"));
  }
  std::string_view value = *header;
  if (value.size() < kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), value.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return Err(UnauthenticatedError("Authorization header must use the Bearer scheme"));
  }
  value.remove_prefix(kBearer.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return Err(UnauthenticatedError("empty bearer token"));
  if (LooksLikeToken(value)) return AuthenticateApiKey(value);
  return AuthenticateJwt(value);
}

StatusOr<Principal> AuthService::AuthenticateApiKey(std::string_view api_key) {
  auto parsed = ParseToken(api_key);
  if (!parsed.has_value()) return Err(parsed.error());
  if (parsed->kind != kTokenKindApiKey) return Err(Unauthenticated());
  const std::vector<uint8_t> presented = HmacSecret(keyring_.pepper(), parsed->secret.view());
  auto credential = store_.GetCredential(parsed->public_id);
  if (!credential.has_value()) {
    if (credential.error().code() != StatusCode::kNotFound) return Err(credential.error());
    // Same work as a wrong secret: compare against a stored-size dummy.
    const std::vector<uint8_t> dummy(presented.size(), 0);
    (void)ConstantTimeEquals(presented, dummy);
    return Err(Unauthenticated());
  }
  const bool match = ConstantTimeEquals(presented, credential->secret_hmac);
  if (!match || credential->kind != kTokenKindApiKey || credential->revoked_at.has_value()) {
    return Err(Unauthenticated());
  }
  return PrincipalFor(*credential);
}

StatusOr<Principal> AuthService::AuthenticateJwt(std::string_view jwt) {
  ASSIGN_OR_RETURN(JwtClaims claims, VerifyJwt(jwt, keyring_.jwt_key(), clock_.Now()));
  // The token lives only as long as the key it was exchanged for.
  auto credential = store_.GetCredential(claims.credential_id);
  if (!credential.has_value()) {
    if (credential.error().code() == StatusCode::kNotFound) return Err(Unauthenticated());
    return Err(credential.error());
  }
  if (credential->revoked_at.has_value() || credential->principal_id != claims.subject) {
    return Err(Unauthenticated());
  }
  return PrincipalFor(*credential);
}

StatusOr<Principal> AuthService::PrincipalFor(const Credential& credential) {
  Principal p;
  p.kind = credential.principal_kind;
  p.id = credential.principal_id;
  p.credential_id = credential.public_id;
  if (credential.principal_kind == PrincipalKind::kUser) {
    auto user = store_.GetUser(credential.principal_id);
    if (!user.has_value()) {
      if (user.error().code() == StatusCode::kNotFound) return Err(Unauthenticated());
      return Err(user.error());
    }
    p.name = user->name;
    p.is_admin = user->is_admin;
  }
  return p;
}

StatusOr<AccessToken> AuthService::IssueToken(std::string_view api_key) {
  if (!LooksLikeToken(api_key)) return Err(UnauthenticatedError("api_key is not a Coffer API key"));
  ASSIGN_OR_RETURN(Principal principal, AuthenticateApiKey(api_key));
  const UnixMicros now = clock_.Now();
  JwtClaims claims;
  claims.subject = principal.id;
  claims.principal_kind = std::string(PrincipalKindName(principal.kind));
  claims.credential_id = principal.credential_id;
  claims.token_id = NewUuid();
  claims.issued_at = now;
  claims.expires_at = now + options_.token_ttl.count() * kMicrosPerSecond;
  ASSIGN_OR_RETURN(std::string jwt, SignJwt(claims, keyring_.jwt_key()));
  AccessToken token{SecretBuffer(jwt), claims.expires_at, options_.token_ttl.count()};
  SecureWipe(jwt);
  return token;
}

StatusOr<BootstrapResult> InitializeStore(Store& store, const SecretBuffer& root_key,
                                          Random& random, const Clock& clock) {
  ASSIGN_OR_RETURN(std::vector<WrappedKey> existing, store.LoadKeys());
  if (!existing.empty()) {
    return Err(AlreadyExistsError("this data directory is already initialized"));
  }
  const UnixMicros now = clock.Now();
  ASSIGN_OR_RETURN(std::vector<WrappedKey> keys,
                   Keyring::CreateInitialKeys(root_key, random, now));
  for (const WrappedKey& key : keys) RETURN_IF_ERROR(store.InsertKey(key));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> keyring, Keyring::Unwrap(keys, root_key, random));

  User admin;
  admin.id = NewUuid();
  admin.name = "admin";
  admin.is_admin = true;
  admin.created_at = now;
  RETURN_IF_ERROR(store.InsertUser(admin));

  ASSIGN_OR_RETURN(MintedToken minted, MintToken(kTokenKindApiKey, keyring->pepper(), random));
  Credential credential;
  credential.public_id = minted.public_id;
  credential.kind = std::string(kTokenKindApiKey);
  credential.principal_kind = PrincipalKind::kUser;
  credential.principal_id = admin.id;
  credential.name = "initial admin key";
  credential.secret_hmac = minted.secret_hmac;
  credential.created_at = now;
  RETURN_IF_ERROR(store.InsertCredential(credential));
  return BootstrapResult{std::move(admin), std::move(minted.token)};
}

}  // namespace coffer
