// Building blocks shared by the route files: authenticated handlers and JSON responses.
#pragma once

#include <boost/json/value.hpp>
#include <functional>

#include "api/json_body.h"
#include "common/status.h"
#include "http/client_ip.h"
#include "http/message.h"
#include "http/router.h"
#include "service/audit_log.h"
#include "service/auth_service.h"
#include "service/principal.h"

namespace coffer::api {

using AuthedHandler = std::function<StatusOr<http::Response>(
    const http::Request&, const http::RouteParams&, const RequestContext&)>;

// For the reads a server may answer on its I/O thread: quick, and waiting for nothing but the
// store's reads unless the secret is counted (http::RouteOptions::io_thread says what happens
// then).
inline constexpr http::RouteOptions kReadOnIoThread{.io_thread = true};

// What every authenticated route needs besides its service.
struct RouteContext {
  AuthService& auth;
  AuditLog& audit;
  const http::TrustedProxies& trusted_proxies;
};

// Authenticates the request (AuthService::AuthenticateRequest: a refusal is audited as
// auth.failed and answered 401/403; past the client address's budget of refusals, 429 with
// Retry-After before the credential is looked at), then
// runs `handler`; a non-OK Status becomes its problem+json response. If the handler did not
// write the request's audit event (e.g. it refused the body before calling a service), one is
// written for `action`; if that fails the answer is 503 (fail closed).
http::Handler Authed(const RouteContext& rc, std::string action, AuthedHandler handler);

// The dashboard's session cookie (docs/dashboard.md).
inline constexpr std::string_view kSessionCookieName = "coffer_session";

// The value of the request's coffer_session cookie, if it carries one.
std::optional<std::string_view> SessionCookie(const http::Request& request);

// A request context with no principal yet: request id and client IP.
RequestContext AnonymousContext(const http::Request& request, const http::TrustedProxies& trusted);

// Runs an unauthenticated handler with the same error mapping.
http::Handler Public(
    std::function<StatusOr<http::Response>(const http::Request&, const http::RouteParams&)>
        handler);

// `status` with a serialized JSON body.
http::Response JsonResponse(int status, const boost::json::value& body);

// A route parameter ("" when absent).
const std::string& Param(const http::RouteParams& params, std::string_view name);

// The integer query parameter `name`, `fallback` when absent; kInvalidArgument when it is not
// an integer.
StatusOr<int64_t> QueryInt(const http::Request& req, std::string_view name, int64_t fallback);

// 204 No Content.
http::Response NoContent();

// Parses a body; a refusal comes back as a ready problem response in the error.
std::expected<JsonBody, http::Response> ParseBody(const http::Request& request, bool optional);

}  // namespace coffer::api
