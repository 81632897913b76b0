// Authenticated handler wrapper and response helpers.
#include "api/handler.h"

#include <boost/json/serialize.hpp>

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
      "apikey.revoke", "agent.revoke", "vault.delete",  "policy.delete",
      "secret.delete", "share.revoke", "binding.delete"};
  for (std::string_view a : kCreated) {
    if (a == action) return 201;
  }
  for (std::string_view a : kNoContent) {
    if (a == action) return 204;
  }
  return 200;
}

}  // namespace

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
    auto principal = rc.auth.AuthenticateRequest(ctx, request.Header("authorization"));
    if (!principal.has_value()) return http::ProblemFromStatus(principal.error());
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

}  // namespace coffer::api
