// The HTTP API: registers every /v1 route on a Router. Thin: parse, call a service, render.
#pragma once

#include "http/router.h"
#include "service/auth_service.h"
#include "service/secret_service.h"
#include "service/vault_service.h"

namespace coffer::api {

struct ApiServices {
  AuthService& auth;
  VaultService& vaults;
  SecretService& secrets;
};

void RegisterRoutes(http::Router& router, const ApiServices& services);

}  // namespace coffer::api
