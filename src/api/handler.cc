// Authenticated handler wrapper and response helpers.
#include "api/handler.h"

#include <boost/json/serialize.hpp>

#include "http/problem_json.h"

namespace coffer::api {

http::Handler Authed(AuthService& auth, AuthedHandler handler) {
  return [&auth, handler = std::move(handler)](const http::Request& request,
                                               const http::RouteParams& params) {
    auto principal = auth.Authenticate(request.Header("authorization"));
    if (!principal.has_value()) return http::ProblemFromStatus(principal.error());
    RequestContext ctx{std::move(*principal), request.request_id, request.peer_ip};
    auto response = handler(request, params, ctx);
    if (!response.has_value()) return http::ProblemFromStatus(response.error());
    return std::move(*response);
  };
}

http::Handler Public(std::function<StatusOr<http::Response>(const http::Request&,
                                                            const http::RouteParams&)> handler) {
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
