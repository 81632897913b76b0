// Routes of secrets' rotation schedules (docs/rotation.md): PUT sets a secret's schedule from a
// rotation_policy body without writing a version, DELETE removes it.
#include "api/handler.h"
#include "api/render.h"
#include "api/routes.h"

namespace coffer::api {

void RegisterScheduleRoutes(http::Router& router, const ApiServices& api) {
  SecretService& secrets = api.secrets;
  const RouteContext rc{api.auth, api.audit_log, api.trusted_proxies};
  const std::string path = "/v1/vaults/{vault_id}/secret-schedule/{*path}";
  router.Add("PUT", path,
             Authed(rc, "secret.schedule",
                    [&secrets](auto& req, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      // The body is the policy itself; JsonBody checks the media type and that
                      // it is one JSON object, the service checks every field.
                      auto body = ParseBody(req, /*optional=*/false);
                      if (!body.has_value()) return std::move(body.error());
                      ASSIGN_OR_RETURN(SecretSchedule schedule,
                                       secrets.Schedule(ctx, Param(params, "vault_id"),
                                                        Param(params, "path"), req.body));
                      return JsonResponse(200, RenderSchedule(schedule));
                    }));
  router.Add("DELETE", path,
             Authed(rc, "secret.unschedule",
                    [&secrets](auto&, auto& params, auto& ctx) -> StatusOr<http::Response> {
                      RETURN_IF_ERROR(secrets.Unschedule(ctx, Param(params, "vault_id"),
                                                         Param(params, "path")));
                      return NoContent();
                    }));
}

}  // namespace coffer::api
