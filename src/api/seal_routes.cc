// GET /v1/sys/seal-status, POST /v1/sys/unseal, POST /v1/sys/seal and the sealed answer. The
// share is read from the body and handed on; it is never logged, echoed or kept here.
#include "api/seal_routes.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "http/problem_json.h"

namespace coffer::api {
namespace {

http::Response StatusResponse(const SealStatus& s) {
  return JsonResponse(200, boost::json::object{{"sealed", s.sealed},
                                               {"threshold", s.threshold},
                                               {"shares", s.shares},
                                               {"progress", s.progress}});
}

}  // namespace

http::Response SealedProblem() {
  return http::Problem(503, "sealed", "Sealed",
                       "the server is sealed: it serves once enough unseal shares are given "
                       "(coffer operator unseal, or POST /v1/sys/unseal)");
}

void RegisterUnsealRoutes(http::Router& router, const SealControl& control,
                          const http::TrustedProxies& proxies) {
  router.Add("GET", "/v1/sys/seal-status",
             Public([&control](auto&, auto&) -> StatusOr<http::Response> {
               return StatusResponse(control.status());
             }));
  router.Add("POST", "/v1/sys/unseal",
             Public([&control, &proxies](auto& req, auto&) -> StatusOr<http::Response> {
               auto body = ParseBody(req, /*optional=*/false);
               if (!body.has_value()) return std::move(body.error());
               RETURN_IF_ERROR(body->AllowOnly({"share", "reset"}));
               ASSIGN_OR_RETURN(std::optional<bool> reset, body->Bool("reset"));
               ASSIGN_OR_RETURN(std::optional<std::string_view> share, body->String("share"));
               if (reset.value_or(false)) {
                 if (share.has_value()) {
                   return Err(InvalidArgumentError("give either share or reset, not both"));
                 }
                 return StatusResponse(control.reset());
               }
               if (!share.has_value()) {
                 return Err(InvalidArgumentError("share is required (or reset: true)"));
               }
               const RequestContext ctx = AnonymousContext(req, proxies);
               ASSIGN_OR_RETURN(SealStatus status, control.unseal(*share, ctx));
               return StatusResponse(status);
             }));
}

void RegisterSealRoute(http::Router& router, const RouteContext& rc, const SealControl& control) {
  router.Add(
      "POST", "/v1/sys/seal",
      Authed(rc, "sys.seal", [&control, rc](auto&, auto&, auto& ctx) -> StatusOr<http::Response> {
        if (!ctx.principal.is_admin) {
          RETURN_IF_ERROR(rc.audit.Record(ctx, rc.audit.NewEvent(ctx, "sys.seal"),
                                          PermissionDeniedError("not an admin")));
          return Err(PermissionDeniedError("only an admin may seal the server"));
        }
        // Audited before the keys go: once sealed, nothing can be written.
        RETURN_IF_ERROR(rc.audit.Record(ctx, rc.audit.NewEvent(ctx, "sys.seal"), OkStatus()));
        RETURN_IF_ERROR(control.seal());
        return StatusResponse(control.status());
      }));
}

}  // namespace coffer::api
