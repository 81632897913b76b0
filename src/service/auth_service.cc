// Credential verification with a revocation-safe cache, JWT exchange, and store bootstrap.
#include "service/auth_service.h"

#include <algorithm>

#include "common/ids.h"
#include "common/non_blocking.h"
#include "crypto/api_token.h"
#include "crypto/jwt.h"

namespace coffer {
namespace {

constexpr std::string_view kBearer = "Bearer ";
constexpr size_t kHmacSize = 32;  // HMAC-SHA256

Status Unauthenticated() { return UnauthenticatedError("invalid credentials"); }

// What a client is refused when it has spent its budget. Names no credential.
Status Limited() {
  return ResourceExhaustedError(
      "too many failed authentications from this address; try again after Retry-After seconds");
}

// Whether `code` refuses the client's request (rather than reporting a fault of the server).
bool IsRefusal(StatusCode code) {
  return code == StatusCode::kInvalidArgument || code == StatusCode::kUnauthenticated ||
         code == StatusCode::kPermissionDenied || code == StatusCode::kResourceExhausted;
}

}  // namespace

AuthService::AuthService(const ServiceDeps& deps, const Keyring& keyring, Options options)
    : deps_(deps),
      keyring_(keyring),
      options_(std::move(options)),
      changes_(options_.changes != nullptr ? *options_.changes : deps.store.Changes()),
      failures_(options_.failure_limit),
      subscription_(changes_.Watch([this](const StoreChange& change) { OnChange(change); })) {}

StatusOr<std::string_view> AuthService::BearerToken(std::optional<std::string_view> header) {
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
  return value;
}

namespace {
// A well-formed id no principal has (ids are random UUIDs; this one is version 0).
constexpr std::string_view kNoSuchPrincipalId = "00000000-0000-0000-0000-000000000000";
}  // namespace

StatusOr<AuthService::CacheEntry> AuthService::Lookup(std::string_view public_id) {
  const bool current = changes_.Current();
  uint64_t generation = 0;
  if (current) {
    ReaderMutexLock lock(mu_);
    auto it = credentials_.find(std::string(public_id));
    if (it != credentials_.end()) {
      if (!it->second.exists) return Err(NotFoundError("unknown credential"));
      return it->second;
    }
    generation = generation_;
  }
  auto found = deps_.store.GetCredential(public_id);
  if (!found.has_value()) {
    if (found.error().code() == StatusCode::kNotFound) {
      // The principal read a known id costs, here for nothing: an unknown id takes as long as a
      // known one, so timing does not tell which ids exist.
      (void)deps_.store.GetUser(kNoSuchPrincipalId);
      if (current) {
        WriterMutexLock lock(mu_);
        if (generation == generation_) {
          if (credentials_.size() >= kMaxCacheEntries) credentials_.clear();
          CacheEntry absent;
          absent.exists = false;
          credentials_.emplace(std::string(public_id), std::move(absent));
        }
      }
    }
    return Err(found.error());
  }
  Credential credential = std::move(*found);
  CacheEntry entry;
  entry.principal.kind = credential.principal_kind;
  entry.principal.id = credential.principal_id;
  entry.principal.credential_id = credential.public_id;
  if (credential.principal_kind == PrincipalKind::kUser) {
    ASSIGN_OR_RETURN(User user, deps_.store.GetUser(credential.principal_id));
    entry.principal.name = user.name;
    entry.principal.is_admin = user.is_admin;
  } else {
    ASSIGN_OR_RETURN(Agent agent, deps_.store.GetAgent(credential.principal_id));
    entry.principal.name = agent.name;
    entry.principal_revoked = agent.is_revoked();
    entry.principal_deactivated = agent.deactivated_at.has_value();
  }
  entry.credential = std::move(credential);
  if (current) {
    WriterMutexLock lock(mu_);
    // Only if nothing was revoked or rotated while we read: never cache a stale "valid".
    if (generation == generation_) {
      if (credentials_.size() >= kMaxCacheEntries) credentials_.clear();
      credentials_.emplace(entry.credential.public_id, entry);
    }
  }
  return entry;
}

void AuthService::OnChange(const StoreChange& change) {
  using Kind = StoreChange::Kind;
  if (change.kind != Kind::kCredential && change.kind != Kind::kPrincipal &&
      change.kind != Kind::kEverything) {
    return;
  }
  WriterMutexLock lock(mu_);
  ++generation_;
  if (change.kind == Kind::kEverything) {
    credentials_.clear();
  } else if (change.kind == Kind::kCredential) {
    credentials_.erase(change.id);
  } else {
    std::erase_if(credentials_, [&](const auto& kv) {
      return !kv.second.exists || (kv.second.credential.principal_kind == change.principal_kind &&
                                   kv.second.credential.principal_id == change.id);
    });
  }
}

StatusOr<VerifiedCredential> AuthService::Verify(std::string_view token, std::string_view kind) {
  auto parsed = ParseToken(token);
  if (!parsed.has_value()) return Err(parsed.error());
  const uint32_t writing = keyring_.WritingPepperId(deps_.clock.Now());
  auto entry = Lookup(parsed->public_id);
  if (!entry.has_value()) {
    if (entry.error().code() != StatusCode::kNotFound) return Err(entry.error());
    // Same work as a wrong secret: one HMAC, and a constant-time compare against a dummy.
    const std::vector<uint32_t> chain{writing};
    auto presented = keyring_.PepperMac(chain, parsed->secret.view());
    const std::vector<uint8_t> dummy(kHmacSize, 0);
    (void)ConstantTimeEquals(presented.has_value() ? *presented : dummy, dummy);
    return Err(Unauthenticated());
  }
  // Under the pepper chain the row names (crypto/keyring.h): one row per public id, so a wrong
  // secret costs the same whichever pepper the key is on. A pepper no longer held (retired)
  // refuses the key.
  const std::vector<uint32_t> chain = entry->credential.pepper_ids.empty()
                                          ? std::vector<uint32_t>{keyring_.active_pepper_id()}
                                          : entry->credential.pepper_ids;
  auto presented = keyring_.PepperMac(chain, parsed->secret.view());
  const bool match =
      presented.has_value() && ConstantTimeEquals(*presented, entry->credential.secret_hmac);
  if (!match || parsed->kind != kind || entry->credential.kind != kind) {
    return Err(Unauthenticated());
  }
  // `ocv_` marks an agent's key; a user's key written that way is not one it was given.
  if (parsed->agent_key_form && entry->credential.principal_kind != PrincipalKind::kAgent) {
    return Err(Unauthenticated());
  }
  // Revoking an agent revokes its credentials too; the agent's revocation is what the caller
  // is told (403), as seed 003 says.
  // A revocation in the future is a rotation's grace window: the key works until then.
  if (entry->credential.IsRevokedAt(deps_.clock.Now()) && !entry->principal_revoked) {
    return Err(Unauthenticated());
  }
  if (chain.size() != 1 || chain.front() != writing) {
    RehashCredential(*entry, parsed->secret.view(), writing);
  }
  return VerifiedCredential{std::move(entry->credential), std::move(entry->principal),
                            entry->principal_revoked, entry->principal_deactivated};
}

namespace {
// Why a verified agent may not act, if it may not: 403 names the agent's state, which only the
// holder of a valid credential learns.
Status RefuseInactive(bool revoked, bool deactivated) {
  if (revoked) return PermissionDeniedError("agent is revoked");
  if (deactivated) {
    return PermissionDeniedError(
        "agent is deactivated (is_active is false); its owner or the "
        "admin can reactivate it");
  }
  return OkStatus();
}
}  // namespace

void AuthService::NoteUse(const Principal& principal) {
  if (deps_.usage != nullptr && principal.kind == PrincipalKind::kAgent) {
    deps_.usage->RecordAgentUse(principal.id, deps_.clock.Now());
  }
}

StatusOr<Principal> AuthService::FromVerified(const VerifiedCredential& verified) {
  RETURN_IF_ERROR(RefuseInactive(verified.principal_revoked, verified.principal_deactivated));
  NoteUse(verified.principal);
  return verified.principal;
}

StatusOr<Principal> AuthService::Authenticate(std::optional<std::string_view> header) {
  ASSIGN_OR_RETURN(std::string_view token, BearerToken(header));
  if (LooksLikeToken(token)) {
    ASSIGN_OR_RETURN(VerifiedCredential verified, Verify(token, kTokenKindApiKey));
    return FromVerified(verified);
  }
  return AuthenticateJwt(token);
}

StatusOr<Principal> AuthService::AuthenticateJwt(std::string_view jwt) {
  ASSIGN_OR_RETURN(JwtClaims claims, keyring_.VerifyToken(jwt, deps_.clock.Now(), KeyWindow()));
  // The token lives only as long as the key it was exchanged for.
  return PrincipalOfCredential(claims.credential_id, claims.subject);
}

StatusOr<Principal> AuthService::PrincipalOfCredential(std::string_view credential_id,
                                                       std::string_view principal_id) {
  auto entry = Lookup(credential_id);
  if (!entry.has_value()) {
    if (entry.error().code() == StatusCode::kNotFound) return Err(Unauthenticated());
    return Err(entry.error());
  }
  if (entry->credential.IsRevokedAt(deps_.clock.Now()) ||
      entry->credential.principal_id != principal_id) {
    return Err(Unauthenticated());
  }
  RETURN_IF_ERROR(RefuseInactive(entry->principal_revoked, entry->principal_deactivated));
  NoteUse(entry->principal);
  return entry->principal;
}

StatusOr<std::vector<std::string>> AuthService::AgentVaultIds(std::string_view agent_id) {
  ASSIGN_OR_RETURN(std::vector<Policy> policies,
                   deps_.store.ListPoliciesForPrincipal(PrincipalKind::kAgent, agent_id));
  const UnixMicros now = deps_.clock.Now();
  std::vector<std::string> ids;
  for (const Policy& p : policies) {
    // A deny gives no standing in a vault. An allow's conditions are not weighed: the claim
    // lists where the agent may be let in; each request is still decided on its own.
    if (p.effect == PolicyEffect::kAllow && (!p.expires_at.has_value() || *p.expires_at > now)) {
      ids.push_back(p.vault_id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

AuthService::~AuthService() { JoinSummaryThread(); }

UnixMicros AuthService::TokenLifetime() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(options_.token_ttl).count();
}

UnixMicros AuthService::KeyWindow() const {
  return TokenLifetime() +
         std::chrono::duration_cast<std::chrono::microseconds>(kReplacedTokenKeySlack).count();
}

std::vector<PublicTokenKey> AuthService::TokenPublicKeys() const {
  return keyring_.TokenPublicKeys(deps_.clock.Now(), KeyWindow());
}

Status AuthService::AdmitClient(std::string_view client_ip) {
  const UnixMicros wait = failures_.Admit(client_ip, deps_.clock.Now());
  if (wait == 0) return OkStatus();
  if (options_.on_limited) options_.on_limited();
  Status limited = Limited();
  limited.SetPayload({.retry_after = std::chrono::microseconds(wait)});
  return limited;
}

void AuthService::NoteResult(std::string_view client_ip, const Status& result) {
  if (result.ok() || !IsRefusal(result.code()) || NonBlockingScope::Refused()) return;
  failures_.NoteFailure(client_ip, deps_.clock.Now());
}

StatusOr<Principal> AuthService::AuthenticateRequest(const RequestContext& anonymous,
                                                     std::optional<std::string_view> header) {
  return AuthenticateRequest(anonymous, RequestCredentials{.authorization = header,
                                                           .session_cookie = std::nullopt,
                                                           .csrf_token = std::nullopt});
}

StatusOr<Principal> AuthService::AuthenticateRequest(const RequestContext& anonymous,
                                                     const RequestCredentials& credentials) {
  RETURN_IF_ERROR(AdmitClient(anonymous.client_ip));
  const bool by_cookie =
      !credentials.authorization.has_value() && credentials.session_cookie.has_value();
  auto principal = by_cookie
                       ? AuthenticateSession(*credentials.session_cookie, credentials.csrf_token)
                       : Authenticate(credentials.authorization);
  if (principal.has_value()) return principal;
  Status recorded = deps_.audit.RecordAnonymous(anonymous.request_id, anonymous.client_ip,
                                                "auth.failed", principal.error());
  NoteResult(anonymous.client_ip, principal.error());
  return Err(recorded.ok() ? principal.error() : recorded);
}

Status AuthService::AppendFailureSummaries(bool all) {
  Status first = OkStatus();
  for (AuthFailureLimiter::Summary& s : failures_.TakeSummaries(deps_.clock.Now(), all)) {
    RequestContext ctx;
    ctx.client_ip = std::move(s.client);
    AuditEvent event = deps_.audit.NewEvent(ctx, "auth.failed.summary");
    event.count = s.refused;
    Status appended = deps_.audit.Record(ctx, std::move(event), Limited());
    if (!appended.ok() && first.ok()) first = appended;
  }
  return first;
}

void AuthService::StartFailureSummaries(std::chrono::milliseconds interval,
                                        std::function<void(const Status&)> on_error) {
  summary_thread_ = std::thread([this, interval, on_error = std::move(on_error)] {
    const MonotonicClock& clock = deps_.monotonic_clock;
    MutexLock lock(summary_mu_);
    while (!clock.WaitFor(summary_mu_, summary_cv_, interval,
                          [this]() COFFER_REQUIRES(summary_mu_) { return stopping_; })) {
      lock.Unlock();
      const Status s = AppendFailureSummaries(false);
      if (!s.ok() && on_error) on_error(s);
      lock.Lock();
    }
  });
}

void AuthService::JoinSummaryThread() {
  {
    MutexLock lock(summary_mu_);
    stopping_ = true;
  }
  summary_cv_.NotifyAll();
  if (summary_thread_.joinable()) summary_thread_.join();
}

Status AuthService::StopFailureSummaries() {
  JoinSummaryThread();
  return AppendFailureSummaries(true);
}

StatusOr<VerifiedCredential> AuthService::VerifyApiKey(const StatusOr<std::string_view>& api_key) {
  if (!api_key.has_value()) return Err(api_key.error());
  if (!LooksLikeToken(*api_key)) {
    return Err(UnauthenticatedError("api_key is not a Coffer API key"));
  }
  return Verify(*api_key, kTokenKindApiKey);
}

StatusOr<AccessToken> AuthService::IssueToken(const RequestContext& anonymous,
                                              const StatusOr<std::string_view>& api_key,
                                              const TokenExchangeRules& rules) {
  RETURN_IF_ERROR(AdmitClient(anonymous.client_ip));
  StatusOr<VerifiedCredential> verified = VerifyApiKey(api_key);
  // The route a key is not for: named only to its holder, since the key verified.
  if (verified.has_value()) {
    const PrincipalKind kind = verified->principal.kind;
    if (rules.accepts == TokenExchange::kUserKey && kind != PrincipalKind::kUser) {
      verified = Err(UnauthenticatedError(
          "api_key is an agent's key: exchange it at POST /v1/auth/agent-token"));
    } else if (rules.accepts == TokenExchange::kAgentKey && kind != PrincipalKind::kAgent) {
      verified = Err(UnauthenticatedError(
          "api_key is not an agent's key: exchange a user's key at POST /v1/auth/api-key-token"));
    } else if (rules.agent_id.has_value() && *rules.agent_id != verified->principal.id) {
      // Another agent's key: answered exactly as a wrong key, so agent ids cannot be probed.
      verified = Err(Unauthenticated());
    }
  }
  RequestContext ctx = anonymous;
  if (verified.has_value()) ctx.principal = verified->principal;
  auto issued = deps_.audit.Audited<AccessToken>(
      ctx, "auth.token", [&](AuditEvent&) -> StatusOr<AccessToken> {
        if (!verified.has_value()) return Err(verified.error());
        ASSIGN_OR_RETURN(Principal principal, FromVerified(*verified));
        std::vector<std::string> vault_ids;
        if (principal.kind == PrincipalKind::kAgent) {
          ASSIGN_OR_RETURN(vault_ids, AgentVaultIds(principal.id));
        }
        const UnixMicros now = deps_.clock.Now();
        JwtClaims claims;
        claims.subject = principal.id;
        claims.principal_kind = std::string(PrincipalKindName(principal.kind));
        claims.credential_id = principal.credential_id;
        claims.token_id = NewUuid(deps_.random);
        claims.issued_at = now;
        claims.expires_at = now + options_.token_ttl.count() * kMicrosPerSecond;
        claims.vault_ids = vault_ids;
        ASSIGN_OR_RETURN(std::string jwt, keyring_.SignToken(claims));
        AccessToken token{SecretBuffer(jwt), claims.expires_at, options_.token_ttl.count(),
                          std::move(principal), std::move(vault_ids)};
        SecureWipe(jwt);
        return token;
      });
  NoteResult(anonymous.client_ip, issued.has_value() ? OkStatus() : issued.error());
  return issued;
}

void AuthService::RehashCredential(CacheEntry& entry, std::string_view secret, uint32_t writing) {
  const std::vector<uint32_t> chain{writing};
  auto rehashed = keyring_.PepperMac(chain, secret);
  if (!rehashed.has_value()) return;
  // Conditional on the HMAC read: a server that rehashed it first wins, and this one's write is
  // refused (kAborted) and dropped. A failure leaves the key where it was, still verifying.
  if (deps_.store
          .ReplacePepperHash(PepperHashKind::kCredential, entry.credential.public_id,
                             entry.credential.secret_hmac, *rehashed, chain)
          .ok()) {
    entry.credential.secret_hmac = std::move(*rehashed);
    entry.credential.pepper_ids = chain;
  }
}

StatusOr<IssuedCredential> MintCredential(std::string_view kind, PrincipalKind principal_kind,
                                          std::string_view principal_id, std::string_view name,
                                          const Keyring& keyring, UnixMicros now) {
  const uint32_t pepper_id = keyring.WritingPepperId(now);
  ASSIGN_OR_RETURN(MintedToken minted,
                   MintToken(kind, keyring.PepperKey(pepper_id), keyring.random()));
  IssuedCredential issued;
  issued.credential.public_id = std::move(minted.public_id);
  issued.credential.kind = std::string(kind);
  issued.credential.principal_kind = principal_kind;
  issued.credential.principal_id = std::string(principal_id);
  issued.credential.name = std::string(name);
  issued.credential.secret_hmac = std::move(minted.secret_hmac);
  issued.credential.pepper_ids = {pepper_id};
  issued.credential.created_at = now;
  issued.token = std::move(minted.token);
  return issued;
}

StatusOr<IssuedCredential> MintAgentKeyCredential(std::string_view agent_id, const Keyring& keyring,
                                                  UnixMicros now) {
  const uint32_t pepper_id = keyring.WritingPepperId(now);
  ASSIGN_OR_RETURN(MintedToken minted,
                   MintAgentApiKey(keyring.PepperKey(pepper_id), keyring.random()));
  IssuedCredential issued;
  issued.credential.public_id = std::move(minted.public_id);
  issued.credential.kind = std::string(kTokenKindApiKey);
  issued.credential.principal_kind = PrincipalKind::kAgent;
  issued.credential.principal_id = std::string(agent_id);
  issued.credential.name = "api key";
  issued.credential.secret_hmac = std::move(minted.secret_hmac);
  issued.credential.pepper_ids = {pepper_id};
  issued.credential.created_at = now;
  issued.token = std::move(minted.token);
  return issued;
}

StatusOr<BootstrapResult> InitializeStore(Store& store, const SecretBuffer& root_key,
                                          Random& random, const Clock& clock) {
  if (root_key.size() != kRootKeySize) {
    return Err(FailedPreconditionError("root key must be 32 bytes"));
  }
  std::unique_ptr<RootKey> root = NewBytesRootKey(root_key.Clone(), random, "the root key");
  return InitializeStore(store, *root, random, clock);
}

StatusOr<BootstrapResult> InitializeStore(Store& store, RootKey& root_key, Random& random,
                                          const Clock& clock) {
  ASSIGN_OR_RETURN(std::vector<WrappedKey> existing, store.LoadKeys());
  if (!existing.empty()) {
    return Err(AlreadyExistsError("this data directory is already initialized"));
  }
  const UnixMicros now = clock.Now();
  ASSIGN_OR_RETURN(std::vector<WrappedKey> keys, Keyring::CreateInitialKeys(root_key, random, now));
  for (const WrappedKey& key : keys) RETURN_IF_ERROR(store.InsertKey(key));
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> keyring, Keyring::Unwrap(keys, root_key, random));

  User admin;
  admin.id = NewUuid(random);
  admin.name = "admin";
  admin.is_admin = true;
  admin.created_at = now;
  RETURN_IF_ERROR(store.InsertUser(admin, nullptr));

  ASSIGN_OR_RETURN(IssuedCredential key,
                   MintCredential(kTokenKindApiKey, PrincipalKind::kUser, admin.id,
                                  "initial admin key", *keyring, now));
  RETURN_IF_ERROR(store.InsertCredential(key.credential, nullptr));
  return BootstrapResult{std::move(admin), std::move(key.token)};
}

StatusOr<BootstrapResult> RecoverAdminAccess(Store& store, const Keyring& keyring,
                                             const Clock& clock, std::string_view key_name) {
  ASSIGN_OR_RETURN(std::vector<User> users, store.ListUsers());
  const auto admin =
      std::find_if(users.begin(), users.end(), [](const User& u) { return u.is_admin; });
  if (admin == users.end()) {
    return Err(FailedPreconditionError("the store has no admin user (was it initialized?)"));
  }
  const UnixMicros now = clock.Now();
  ASSIGN_OR_RETURN(IssuedCredential key, MintCredential(kTokenKindApiKey, PrincipalKind::kUser,
                                                        admin->id, key_name, keyring, now));
  AuditEvent event;
  event.at = now;
  event.request_id = "offline-" + NewUuid(keyring.random());
  event.actor_kind = "system";
  event.actor_id = "offline";
  event.action = "admin.recovered";
  event.path = "users/" + admin->id + "/api-keys/" + key.credential.public_id;
  event.client_ip = "local";
  event.outcome = "success";
  event.status = "OK";
  RETURN_IF_ERROR(store.InsertCredential(key.credential, &event));
  return BootstrapResult{*admin, std::move(key.token)};
}

}  // namespace coffer
