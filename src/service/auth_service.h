// AuthService: turns an Authorization header into a Principal (API key or short-lived JWT),
// exchanges API keys for JWTs, and verifies credentials for rotation. Verified credentials are
// cached in memory so a warm request costs no store round trip. The cache follows the store's
// change feed: a credential revoked or rotated, or an agent revoked, through this process is
// refused the moment that call returns; through another server on a shared store, within
// kMaxChangeDelay; and nothing is served from memory while the feed is not Current(). An
// unknown id costs the same HMAC as a wrong secret.
//
// Refused credentials are limited per client address (AuthFailureLimiter, in this process's
// memory): past the address's budget, its requests are answered kResourceExhausted before any
// credential is looked at — a valid one included, so the answer tells a guesser nothing — and
// are counted instead of audited one by one; a summary event (auth.failed.summary) per address
// and minute carries the count. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "model/identity.h"
#include "model/ui_session.h"
#include "service/auth_failure_limiter.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

// A replaced token signing key verifies for a token lifetime plus this long: other servers
// sign with it until their next keyring refresh (kKeyringRefreshInterval).
inline constexpr std::chrono::seconds kReplacedTokenKeySlack{10};

struct AccessToken {
  SecretBuffer token;
  UnixMicros expires_at = 0;
  int64_t expires_in_seconds = 0;
  Principal principal;  // whom the token stands for
  // For an agent: the vaults in which it holds a policy that has not expired, ordered by id
  // (also the token's vault_ids claim). Empty for a user.
  std::vector<std::string> vault_ids;
};

// Which API keys a token exchange takes.
enum class TokenExchange : uint8_t {
  kAnyKey,    // POST /v1/auth/token: a user's or an agent's
  kUserKey,   // POST /v1/auth/api-key-token: a user's only
  kAgentKey,  // POST /v1/auth/agent-token: an agent's only
};

struct TokenExchangeRules {
  TokenExchange accepts = TokenExchange::kAnyKey;
  // kAgentKey: the agent the caller says the key belongs to. A key of another agent is refused
  // exactly as a wrong key is.
  std::optional<std::string> agent_id;
};

// The credentials a request may carry: an Authorization header, or a dashboard session's cookie
// with the X-CSRF-Token header that must come with it (auth_session.cc).
struct RequestCredentials {
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> session_cookie;  // the coffer_session cookie's value
  std::optional<std::string_view> csrf_token;      // the X-CSRF-Token header
};

// A dashboard session as its holder sees it.
struct UiSessionView {
  SecretBuffer cookie;     // the cookie's value: set only by CreateSession (shown once)
  std::string csrf_token;  // the same for the session's whole life
  UnixMicros expires_at = 0;
  int64_t max_age_seconds = 0;  // from now until expires_at, for the cookie's Max-Age
  Principal principal;
};

// A credential whose secret matched, with the principal it belongs to.
struct VerifiedCredential {
  Credential credential;
  Principal principal;
  bool principal_revoked = false;      // an agent that was revoked
  bool principal_deactivated = false;  // an agent that is deactivated (is_active false)
};

class AuthService {
 public:
  struct Options {
    std::chrono::seconds token_ttl{900};
    // How long a dashboard session lives from sign-in (absolute, however it is used).
    std::chrono::seconds session_ttl{3600};
    // The feed the credential cache follows; null: the store's own (a test may report changes
    // by hand instead). Must outlive the service.
    ChangeFeed* changes = nullptr;
    AuthFailureLimiter::Options failure_limit{};
    // Hears each request refused because its address is over the limit (e.g. for metrics).
    std::function<void()> on_limited{};
    // The server serves HTTPS: dashboard session cookies carry Secure.
    bool secure_session_cookie = false;
  };
  AuthService(const ServiceDeps& deps, const Keyring& keyring, Options options);
  ~AuthService();

  // Authenticates "Bearer <api key or JWT>". kUnauthenticated with a reason that never echoes
  // the credential; kPermissionDenied for a revoked or deactivated agent (a JWT included: it
  // lives only as long as its key and its agent's activation). Neither audited nor limited: see
  // AuthenticateRequest.
  StatusOr<Principal> Authenticate(std::optional<std::string_view> authorization_header);

  // Authenticate for a request from `anonymous.client_ip`, within that address's budget of
  // refusals. kResourceExhausted, with the wait in its payload's retry_after, when the address
  // is over it: answered before the credential is looked at, counted for the summary, not
  // audited. Otherwise a refusal (401/403) is audited as auth.failed — kUnavailable if that
  // event cannot be written — and spends one of the address's tokens.
  StatusOr<Principal> AuthenticateRequest(const RequestContext& anonymous,
                                          std::optional<std::string_view> authorization_header);

  // As above for every credential a request may carry: the Authorization header when present
  // (the cookie is then ignored), else a dashboard session's cookie, which counts only with the
  // session's CSRF token in `csrf_token`. A session that ended or expired, or whose API key was
  // revoked: kUnauthenticated; a missing or wrong CSRF token: kPermissionDenied. Limited and
  // audited as above.
  StatusOr<Principal> AuthenticateRequest(const RequestContext& anonymous,
                                          const RequestCredentials& credentials);

  // --- dashboard sessions (auth_session.cc) ---------------------------------------------------
  // Signs a person in with an API key (a user's, the admin's): a new session, stored as its
  // cookie's hash with the session.create audit event, living Options::session_ttl. Limited as
  // IssueToken; kUnauthenticated for a wrong key; kPermissionDenied for an agent's key ("the
  // dashboard is for people"); kUnavailable when the store or the audit log fails.
  StatusOr<UiSessionView> CreateSession(const RequestContext& anonymous,
                                        const StatusOr<std::string_view>& api_key);
  // The session of `cookie` (its cookie left empty), for a page that reloads. kUnauthenticated
  // when it ended, expired or never was (audited as auth.failed and limited, as a wrong key).
  StatusOr<UiSessionView> GetSession(const RequestContext& anonymous, std::string_view cookie);
  // Ends the session of `cookie`, which must be `ctx.principal`'s, on every server of the store;
  // audited as session.delete. kNotFound when there is no such session of that principal.
  Status DeleteSession(const RequestContext& ctx, std::string_view cookie);
  // Whether session cookies are to be marked Secure (the server serves HTTPS).
  bool SecureSessionCookie() const { return options_.secure_session_cookie; }

  // Verifies an API key (or takes the request's refusal, when `api_key` holds an error) and
  // issues a JWT for its principal; audited as auth.token. Limited as AuthenticateRequest:
  // kResourceExhausted with retry_after when over the limit; a refusal spends a token.
  // kUnauthenticated for a wrong key, for a key `rules` does not accept (another principal
  // kind) and for an agent key that is not `rules.agent_id`'s (answered as a wrong key);
  // kPermissionDenied for a revoked or deactivated agent.
  StatusOr<AccessToken> IssueToken(const RequestContext& anonymous,
                                   const StatusOr<std::string_view>& api_key,
                                   const TokenExchangeRules& rules = {});

  // For other routes that check a credential (agent self-rotation): OK when `client_ip` is
  // within its budget; otherwise kResourceExhausted with the wait in its payload's retry_after,
  // and the refusal is counted for the summary (the caller must then neither look at the
  // credential nor audit).
  Status AdmitClient(std::string_view client_ip);
  // Spends one of `client_ip`'s tokens when `result` is a refusal of the client's request
  // (invalid argument, unauthenticated, permission denied, too many requests), unless the
  // attempt is to be thrown away (NonBlockingScope::Refused: it runs again and is charged then).
  void NoteResult(std::string_view client_ip, const Status& result);

  // Appends an auth.failed.summary event for each address whose refusals are due for one (every
  // pending count when `all`). Returns the first append's error; the counts are taken either way.
  Status AppendFailureSummaries(bool all);
  // Calls AppendFailureSummaries(false) every `interval` on a background thread; `on_error`
  // (may be empty) hears each failure. StopFailureSummaries ends the thread and appends what is
  // left, returning that append's error: call it while the store is still open. The destructor
  // only ends the thread.
  void StartFailureSummaries(std::chrono::milliseconds interval,
                             std::function<void(const Status&)> on_error);
  Status StopFailureSummaries();

  // Verifies a token of `kind` ("key" or "rot") that is not revoked. kUnauthenticated otherwise
  // (an `ocv_` key that is not an agent's included). A credential of a revoked agent verifies
  // (even though revoked with it), with principal_revoked set, so callers can answer 403 rather
  // than 401; so does one of a deactivated agent, with principal_deactivated set.
  StatusOr<VerifiedCredential> Verify(std::string_view token, std::string_view kind);

  // The token signing keys a token is verified with now (current first), for JWKS.
  std::vector<PublicTokenKey> TokenPublicKeys() const;
  // How long an access token lives, in µs.
  UnixMicros TokenLifetime() const;
  // How long after its replacement a token signing key keeps verifying: a token lifetime, plus
  // kReplacedTokenKeySlack for servers that signed with it until they refreshed, in µs.
  UnixMicros KeyWindow() const;

  // The Bearer credential of an Authorization header, or kUnauthenticated.
  static StatusOr<std::string_view> BearerToken(std::optional<std::string_view> header);

 private:
  struct CacheEntry {
    // False for an id the store does not know: remembered too, so that an unknown id and a
    // wrong secret cost the same once warm.
    bool exists = true;
    Credential credential;
    Principal principal;
    bool principal_revoked = false;
    bool principal_deactivated = false;
  };
  // The credential with its principal, from the cache or the store. kNotFound if unknown.
  StatusOr<CacheEntry> Lookup(std::string_view public_id);
  StatusOr<Principal> FromVerified(const VerifiedCredential& verified);
  // Counts an authenticated request of an agent toward its last_used_at (deps_.usage).
  void NoteUse(const Principal& principal);
  StatusOr<Principal> AuthenticateJwt(std::string_view jwt);
  // Stores the HMAC of a verified `secret` under the writing pepper `writing` in place of the
  // one `entry` holds (made under an older pepper or a chain), if no one changed it meanwhile.
  void RehashCredential(CacheEntry& entry, std::string_view secret, uint32_t writing);
  // The vaults of the agent's unexpired policies, ordered by id.
  StatusOr<std::vector<std::string>> AgentVaultIds(std::string_view agent_id);
  // Forgets what `change` makes stale: a credential, every credential of a principal (and every
  // remembered unknown id, which may be one of its new ones), or everything.
  void OnChange(const StoreChange& change);
  // A sign-in's API key verified (or the request's refusal it carries): kUnauthenticated for
  // anything that is not a valid, unrevoked API key.
  StatusOr<VerifiedCredential> VerifyApiKey(const StatusOr<std::string_view>& api_key);
  // The principal of a credential that still stands (not revoked, its principal active) and
  // belongs to `principal_id`: what a JWT or a session carries. kUnauthenticated otherwise.
  StatusOr<Principal> PrincipalOfCredential(std::string_view credential_id,
                                            std::string_view principal_id);
  // The principal of a dashboard session's cookie and CSRF token (see AuthenticateRequest).
  StatusOr<Principal> AuthenticateSession(std::string_view cookie,
                                          std::optional<std::string_view> csrf_token);
  // The stored session of `cookie`, not yet expired; kUnauthenticated otherwise.
  StatusOr<UiSession> LiveSession(std::string_view cookie);
  // What the holder of `session` is shown (no cookie).
  UiSessionView ViewOf(const UiSession& session, std::string_view cookie, Principal principal);

  static constexpr size_t kMaxCacheEntries = 100'000;

  // Ends the summary thread, if running.
  void JoinSummaryThread();

  ServiceDeps deps_;
  const Keyring& keyring_;
  Options options_;
  ChangeFeed& changes_;

  SharedMutex mu_;
  // Bumped by every change reported; a fill that started before a bump is not kept.
  uint64_t generation_ COFFER_GUARDED_BY(mu_) = 0;
  std::unordered_map<std::string, CacheEntry> credentials_ COFFER_GUARDED_BY(mu_);

  AuthFailureLimiter failures_;
  Mutex summary_mu_;
  CondVar summary_cv_;
  bool stopping_ COFFER_GUARDED_BY(summary_mu_) = false;
  std::thread summary_thread_;

  ChangeFeed::Subscription subscription_;  // last: unsubscribed before the map goes
};

// A new credential for a principal: the record to store and the token to show once.
struct IssuedCredential {
  Credential credential;
  SecretBuffer token;
};
StatusOr<IssuedCredential> MintCredential(std::string_view kind, PrincipalKind principal_kind,
                                          std::string_view principal_id, std::string_view name,
                                          const Keyring& keyring, UnixMicros now);

// A new API key for agent `agent_id`, minted in the agent-key form (`ocv_…`, kind "key").
StatusOr<IssuedCredential> MintAgentKeyCredential(std::string_view agent_id, const Keyring& keyring,
                                                  UnixMicros now);

// The first admin of a new data directory and its API key (shown once).
struct BootstrapResult {
  User admin;
  SecretBuffer api_key;
};

// Stores a fresh keyring (wrapped under `root_key`) and creates the admin user with one API key.
// kAlreadyExists when the store already holds a keyring.
// `root_key` seals the keyring (a key file's bytes or a PKCS#11 token's key); the SecretBuffer
// overload is the same with a 32-byte root key held in memory.
StatusOr<BootstrapResult> InitializeStore(Store& store, RootKey& root_key, Random& random,
                                          const Clock& clock);
StatusOr<BootstrapResult> InitializeStore(Store& store, const SecretBuffer& root_key,
                                          Random& random, const Clock& clock);

// Offline recovery of admin access (`coffer admin recover`, run by the operator with the root
// key when no admin API key works): a new API key named `key_name` for the first admin user,
// stored together with an audit event `admin.recovered` (actor "system"/"offline", path
// "users/<admin id>/api-keys/<key id>") in one transaction. Returns the admin and the key (shown
// once). kFailedPrecondition when the store has no admin user; store errors otherwise.
// REQUIRES: `keyring` was unwrapped from this store's keys (so its pepper is the store's).
StatusOr<BootstrapResult> RecoverAdminAccess(Store& store, const Keyring& keyring,
                                             const Clock& clock, std::string_view key_name);

}  // namespace coffer
