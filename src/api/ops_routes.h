// Routes for operating Coffer rather than using it: liveness, readiness, Prometheus metrics and
// the OpenAPI description. None needs credentials, and none reveals a secret, a path or an id.
#pragma once

#include <functional>

#include "common/status.h"
#include "http/metrics.h"
#include "http/router.h"

namespace coffer::api {

struct OpsRoutes {
  // OK when the server can serve requests (the store answers a read, the keyring is loaded);
  // otherwise a Status whose message says what is wrong (shown in the 503 problem). Called for
  // every GET /v1/ready and GET /v1/health; must be thread-safe and cheap.
  std::function<Status()> ready;
  // Rendered for GET /metrics; may be null (then /metrics answers 404 like any unknown route).
  const http::MetricsRegistry* metrics = nullptr;
};

// Registers GET /v1/health, GET /v1/ready, GET /metrics and GET /v1/openapi.yaml.
//
// GET /v1/health is liveness, in the shape the seeds' clients read (HealthResponse): always 200
// while the process serves HTTP, {"status":"healthy","version":…}, or "degraded" when `ready`
// fails. A liveness probe must not restart a server whose database is away; readiness (503) is
// what takes it out of a load balancer.
void RegisterOpsRoutes(http::Router& router, OpsRoutes ops);

}  // namespace coffer::api
