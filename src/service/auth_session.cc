// AuthService's dashboard sessions: sign-in with an API key for an HttpOnly cookie, the cookie
// (with its CSRF token) as a request's credential, sign-out. The store keeps only the SHA-256 of
// a cookie; the CSRF token is derived from the cookie, so no server keeps it either and every
// server of the store gives the same one.
#include <cmath>
#include <span>
#include <string>

#include "common/bytes.h"
#include "common/sha256.h"
#include "crypto/hmac_key.h"
#include "crypto/jwt.h"
#include "service/auth_service.h"

namespace coffer {

namespace {

constexpr size_t kCookieBytes = 32;       // 256 random bits
constexpr size_t kMaxCookieLength = 128;  // a longer value is not one of ours: not looked up
constexpr std::string_view kCsrfLabel = "coffer dashboard csrf token v1";

std::string TokenHash(std::string_view cookie) { return HexEncode(Sha256({AsBytes(cookie)})); }

std::string CsrfTokenOf(std::string_view cookie) {
  const HmacSha256Key key{SecretBuffer(cookie)};
  return Base64UrlNoPad(key.Mac(kCsrfLabel));
}

Status SessionEnded() {
  return UnauthenticatedError("the dashboard session has ended or expired; sign in again");
}

}  // namespace

StatusOr<UiSession> AuthService::LiveSession(std::string_view cookie) {
  if (cookie.empty() || cookie.size() > kMaxCookieLength) return Err(SessionEnded());
  auto session = deps_.store.GetUiSession(TokenHash(cookie));
  if (!session.has_value()) {
    if (session.error().code() == StatusCode::kNotFound) return Err(SessionEnded());
    return Err(session.error());
  }
  if (deps_.clock.Now() >= session->expires_at) return Err(SessionEnded());
  return session;
}

UiSessionView AuthService::ViewOf(const UiSession& session, std::string_view cookie,
                                  Principal principal) {
  UiSessionView view;
  view.csrf_token = CsrfTokenOf(cookie);
  view.expires_at = session.expires_at;
  const UnixMicros left = std::max<UnixMicros>(0, session.expires_at - deps_.clock.Now());
  view.max_age_seconds = (left + kMicrosPerSecond - 1) / kMicrosPerSecond;
  view.principal = std::move(principal);
  return view;
}

StatusOr<Principal> AuthService::AuthenticateSession(std::string_view cookie,
                                                     std::optional<std::string_view> csrf_token) {
  ASSIGN_OR_RETURN(UiSession session, LiveSession(cookie));
  // The session lives only as long as the API key it was opened with.
  ASSIGN_OR_RETURN(Principal principal,
                   PrincipalOfCredential(session.credential_id, session.user_id));
  if (!csrf_token.has_value() || csrf_token->empty()) {
    return Err(PermissionDeniedError(
        "the X-CSRF-Token header is missing: a request authenticated by the dashboard's session "
        "cookie must carry the session's CSRF token"));
  }
  if (!ConstantTimeEquals(*csrf_token, CsrfTokenOf(cookie))) {
    return Err(PermissionDeniedError("the X-CSRF-Token header does not match the session"));
  }
  return principal;
}

StatusOr<UiSessionView> AuthService::CreateSession(const RequestContext& anonymous,
                                                   const StatusOr<std::string_view>& api_key) {
  RETURN_IF_ERROR(AdmitClient(anonymous.client_ip));
  StatusOr<VerifiedCredential> verified = VerifyApiKey(api_key);
  RequestContext ctx = anonymous;
  if (verified.has_value()) ctx.principal = verified->principal;
  auto created = deps_.audit.Audited<UiSessionView>(
      ctx, "session.create", [&](AuditEvent& event) -> StatusOr<UiSessionView> {
        if (!verified.has_value()) return Err(verified.error());
        if (verified->principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError(
              "the dashboard is for people: sign in with a user's API key, not an agent's"));
        }
        ASSIGN_OR_RETURN(Principal principal, FromVerified(*verified));
        SecretBuffer raw(kCookieBytes);
        RETURN_IF_ERROR(deps_.random.Fill(std::span<uint8_t>(raw.data(), raw.size())));
        std::string encoded = Base64UrlNoPad(raw.span());
        SecretBuffer cookie(encoded);
        SecureWipe(encoded);
        UiSession session;
        session.token_hash = TokenHash(cookie.view());
        session.user_id = principal.id;
        session.credential_id = principal.credential_id;
        session.created_at = deps_.clock.Now();
        session.expires_at = session.created_at + options_.session_ttl.count() * kMicrosPerSecond;
        RETURN_IF_ERROR(deps_.store.InsertUiSession(session, AuditLog::Success(event)));
        AuditLog::MarkWritten(ctx);
        UiSessionView view = ViewOf(session, cookie.view(), std::move(principal));
        view.cookie = std::move(cookie);
        return view;
      });
  NoteResult(anonymous.client_ip, created.has_value() ? OkStatus() : created.error());
  return created;
}

StatusOr<UiSessionView> AuthService::GetSession(const RequestContext& anonymous,
                                                std::string_view cookie) {
  RETURN_IF_ERROR(AdmitClient(anonymous.client_ip));
  StatusOr<UiSessionView> view = [&]() -> StatusOr<UiSessionView> {
    ASSIGN_OR_RETURN(UiSession session, LiveSession(cookie));
    ASSIGN_OR_RETURN(Principal principal,
                     PrincipalOfCredential(session.credential_id, session.user_id));
    return ViewOf(session, cookie, std::move(principal));
  }();
  if (!view.has_value()) {
    Status recorded = deps_.audit.RecordAnonymous(anonymous.request_id, anonymous.client_ip,
                                                  "auth.failed", view.error());
    NoteResult(anonymous.client_ip, view.error());
    return Err(recorded.ok() ? view.error() : recorded);
  }
  RequestContext ctx = anonymous;
  ctx.principal = view->principal;
  RETURN_IF_ERROR(deps_.audit.Record(ctx, deps_.audit.NewEvent(ctx, "session.read"), OkStatus()));
  return view;
}

Status AuthService::DeleteSession(const RequestContext& ctx, std::string_view cookie) {
  auto deleted =
      deps_.audit.Audited<bool>(ctx, "session.delete", [&](AuditEvent& event) -> StatusOr<bool> {
        if (cookie.empty() || cookie.size() > kMaxCookieLength) {
          return Err(NotFoundError("no such session"));
        }
        const std::string hash = TokenHash(cookie);
        auto session = deps_.store.GetUiSession(hash);
        if (!session.has_value()) {
          if (session.error().code() == StatusCode::kNotFound) {
            return Err(NotFoundError("no such session"));
          }
          return Err(session.error());
        }
        if (session->user_id != ctx.principal.id) return Err(NotFoundError("no such session"));
        RETURN_IF_ERROR(deps_.store.DeleteUiSession(hash, AuditLog::Success(event)));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return deleted.has_value() ? OkStatus() : deleted.error();
}

}  // namespace coffer
