// Building blocks shared by the route files: authenticated handlers and JSON responses.
#pragma once

#include <boost/json/value.hpp>
#include <functional>

#include "api/json_body.h"
#include "common/status.h"
#include "http/message.h"
#include "http/router.h"
#include "service/auth_service.h"
#include "service/principal.h"

namespace coffer::api {

using AuthedHandler = std::function<StatusOr<http::Response>(
    const http::Request&, const http::RouteParams&, const RequestContext&)>;

// Authenticates the request (401 problem otherwise), then runs `handler`; a non-OK Status
// becomes its problem+json response.
http::Handler Authed(AuthService& auth, AuthedHandler handler);

// Runs an unauthenticated handler with the same error mapping.
http::Handler Public(std::function<StatusOr<http::Response>(const http::Request&,
                                                            const http::RouteParams&)> handler);

// `status` with a serialized JSON body.
http::Response JsonResponse(int status, const boost::json::value& body);

// A route parameter ("" when absent).
const std::string& Param(const http::RouteParams& params, std::string_view name);

// 204 No Content.
http::Response NoContent();

// Parses a body; a refusal comes back as a ready problem response in the error.
std::expected<JsonBody, http::Response> ParseBody(const http::Request& request, bool optional);

}  // namespace coffer::api
