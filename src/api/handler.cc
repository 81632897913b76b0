// Authenticated handler wrapper and response helpers.
#include "api/handler.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <string>

#include "common/secret_buffer.h"
#include "http/problem_json.h"

namespace coffer::api {

namespace {

// What a successful request of each action answers; recorded in its audit event.
int SuccessStatusFor(std::string_view action) {
  static constexpr std::string_view kCreated[] = {
      "user.create",  "apikey.create", "agent.create", "vault.create",  "policy.create",
      "secret.write", "secret.rotate", "share.create", "binding.create"};
  static constexpr std::string_view kNoContent[] = {
      "apikey.revoke", "agent.revoke", "vault.delete",   "policy.delete",
      "secret.delete", "share.revoke", "binding.delete", "session.delete"};
  for (std::string_view a : kCreated) {
    if (a == action) return 201;
  }
  for (std::string_view a : kNoContent) {
    if (a == action) return 204;
  }
  return 200;
}

// A refused authentication's problem; a session cookie without its CSRF token gets a type of its
// own, so the dashboard can tell it from a refusal of the person.
http::Response AuthenticationProblem(const RequestCredentials& credentials, const Status& status) {
  if (status.code() == StatusCode::kPermissionDenied && !credentials.authorization.has_value() &&
      credentials.session_cookie.has_value() &&
      (!credentials.csrf_token.has_value() || credentials.csrf_token->empty())) {
    return http::Problem(403, "csrf-token-missing", "CSRF token missing", status.message());
  }
  return http::ProblemFromStatus(status);
}

}  // namespace

std::optional<std::string_view> SessionCookie(const http::Request& request) {
  for (const auto& [name, value] : request.headers) {
    if (name != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t end = rest.find(';');
      std::string_view pair = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      if (pair.starts_with(kSessionCookieName) && pair.size() > kSessionCookieName.size() &&
          pair[kSessionCookieName.size()] == '=') {
        pair.remove_prefix(kSessionCookieName.size() + 1);
        while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
        return pair;
      }
    }
  }
  return std::nullopt;
}

RequestContext AnonymousContext(const http::Request& request, const http::TrustedProxies& trusted) {
  RequestContext ctx;
  ctx.request_id = request.request_id;
  ctx.client_ip = http::ClientIp(request, trusted);
  ctx.success_status = 200;
  return ctx;
}

http::Handler Authed(const RouteContext& rc, std::string action, AuthedHandler handler) {
  return [rc, action = std::move(action), handler = std::move(handler)](
             const http::Request& request, const http::RouteParams& params) {
    RequestContext ctx = AnonymousContext(request, rc.trusted_proxies);
    const RequestCredentials credentials{.authorization = request.Header("authorization"),
                                         .session_cookie = SessionCookie(request),
                                         .csrf_token = request.Header("x-csrf-token")};
    auto principal = rc.auth.AuthenticateRequest(ctx, credentials);
    if (!principal.has_value()) return AuthenticationProblem(credentials, principal.error());
    ctx.principal = std::move(*principal);
    ctx.success_status = SuccessStatusFor(action);
    ctx.defer_audit = request.before_send_honoured;
    auto response = handler(request, params, ctx);
    if (!ctx.audited) {
      Status recorded = rc.audit.Record(ctx, rc.audit.NewEvent(ctx, action),
                                        response.has_value() ? OkStatus() : response.error());
      if (!recorded.ok()) {
        if (response.has_value() && response->sensitive) SecureWipe(response->body);
        http::Response refused = http::ProblemFromStatus(recorded);
        refused.actor_id = ctx.principal.id;
        return refused;
      }
    }
    http::Response answer =
        response.has_value() ? std::move(*response) : http::ProblemFromStatus(response.error());
    answer.actor_id = ctx.principal.id;  // for the access log only
    if (ctx.audit_receipt != nullptr) {
      // The request's audit event is still being appended: the server sends the answer once it
      // is written, or the audit failure's problem instead.
      answer.before_send = [receipt =
                                std::move(ctx.audit_receipt)](std::function<void(Status)> then) {
        receipt->Then(std::move(then));
      };
    }
    return answer;
  };
}

http::Handler Public(
    std::function<StatusOr<http::Response>(const http::Request&, const http::RouteParams&)>
        handler) {
  return [handler = std::move(handler)](const http::Request& request,
                                        const http::RouteParams& params) {
    auto response = handler(request, params);
    if (!response.has_value()) return http::ProblemFromStatus(response.error());
    return std::move(*response);
  };
}

http::Response JsonResponse(int status, const boost::json::value& body) {
  http::Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

const std::string& Param(const http::RouteParams& params, std::string_view name) {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

http::Response NoContent() {
  http::Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

std::expected<JsonBody, http::Response> ParseBody(const http::Request& request, bool optional) {
  auto body = JsonBody::Parse(request, optional);
  if (body.has_value()) return std::move(*body);
  if (body.error().unsupported_media_type) {
    return std::unexpected(http::Problem(415, "unsupported-media-type", "Unsupported Media Type",
                                         body.error().status.message()));
  }
  return std::unexpected(http::ProblemFromStatus(body.error().status));
}

StatusOr<int64_t> QueryInt(const http::Request& req, std::string_view name, int64_t fallback) {
  auto text = req.Query(name);
  if (!text.has_value()) return fallback;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || ptr != text->data() + text->size()) {
    return Err(
        InvalidArgumentError("query parameter " + std::string(name) + " must be an integer"));
  }
  return v;
}

}  // namespace coffer::api
