// The dashboard's sign-in: POST /v1/auth/session exchanges an API key for an HttpOnly,
// SameSite=Strict session cookie and a CSRF token (docs/dashboard.md says why); GET answers a
// reloaded page with the same; DELETE signs out on every server. The cookie as a credential of
// the other routes is in handler.cc (Authed).
#include <boost/json/object.hpp>
#include <string>

#include "api/handler.h"
#include "api/routes.h"
#include "common/time_format.h"

namespace coffer::api {

namespace {

boost::json::object RenderSession(const UiSessionView& view) {
  boost::json::object principal;
  principal["type"] = PrincipalKindName(view.principal.kind);
  principal["id"] = view.principal.id;
  principal["name"] = view.principal.name;
  principal["email"] = nullptr;  // Coffer's users have no email address
  principal["is_admin"] = view.principal.is_admin;
  boost::json::object o;
  o["csrf_token"] = view.csrf_token;
  o["expires_at"] = FormatRfc3339(view.expires_at);
  o["principal"] = std::move(principal);
  return o;
}

// Set-Cookie for `value` (empty: clears the cookie) living `max_age` seconds.
std::string SessionCookieHeader(std::string_view value, int64_t max_age, bool secure) {
  std::string header = std::string(kSessionCookieName) + "=" + std::string(value) +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
  if (secure) header += "; Secure";
  return header;
}

}  // namespace

void RegisterSessionRoutes(http::Router& router, const ApiServices& api) {
  AuthService& auth = api.auth;
  const http::TrustedProxies& proxies = api.trusted_proxies;
  router.Add("POST", "/v1/auth/session",
             Public([&auth, &proxies](auto& req, auto&) -> StatusOr<http::Response> {
               RequestContext anonymous = AnonymousContext(req, proxies);
               anonymous.success_status = 201;
               auto body = ParseBody(req, /*optional=*/false);
               std::optional<std::string_view> api_key;
               Status refused;
               if (!body.has_value()) {
                 refused = InvalidArgumentError("request body refused");
               } else if (refused = body->AllowOnly({"api_key"}); refused.ok()) {
                 auto key = body->String("api_key");
                 if (!key.has_value()) {
                   refused = key.error();
                 } else if (!key->has_value()) {
                   refused = InvalidArgumentError("api_key is required");
                 } else {
                   api_key = **key;
                 }
               }
               // Every refusal goes through CreateSession: audited and limited like a wrong key.
               auto session = auth.CreateSession(
                   anonymous, refused.ok() ? StatusOr<std::string_view>(*api_key) : Err(refused));
               if (!session.has_value()) {
                 if (!body.has_value() && session.error().code() == refused.code()) {
                   return std::move(body.error());  // its own answer (400, 415)
                 }
                 return Err(session.error());
               }
               http::Response r = JsonResponse(201, RenderSession(*session));
               r.headers.emplace_back(
                   "Set-Cookie",
                   SessionCookieHeader(session->cookie.view(), session->max_age_seconds,
                                       auth.SecureSessionCookie()));
               r.sensitive = true;
               return r;
             }));
  router.Add("GET", "/v1/auth/session",
             Public([&auth, &proxies](auto& req, auto&) -> StatusOr<http::Response> {
               const std::optional<std::string_view> cookie = SessionCookie(req);
               if (!cookie.has_value()) {
                 // Nothing presented, nothing guessed: a signed-out page, neither audited nor
                 // counted against the address.
                 return Err(UnauthenticatedError("no dashboard session: sign in"));
               }
               ASSIGN_OR_RETURN(UiSessionView session,
                                auth.GetSession(AnonymousContext(req, proxies), *cookie));
               http::Response r = JsonResponse(200, RenderSession(session));
               r.sensitive = true;
               return r;
             }));
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  router.Add("DELETE", "/v1/auth/session",
             Authed(rc, "session.delete",
                    [&auth](auto& req, auto&, auto& ctx) -> StatusOr<http::Response> {
                      const std::optional<std::string_view> cookie = SessionCookie(req);
                      if (!cookie.has_value()) {
                        return Err(InvalidArgumentError(
                            "no coffer_session cookie: there is no session to end"));
                      }
                      RETURN_IF_ERROR(auth.DeleteSession(ctx, *cookie));
                      http::Response r = NoContent();
                      r.headers.emplace_back(
                          "Set-Cookie", SessionCookieHeader("", 0, auth.SecureSessionCookie()));
                      return r;
                    }));
}

}  // namespace coffer::api
