// The HTTP API: registers every /v1 route on a Router. Thin: parse, call a service, render.
#pragma once

#include "http/client_ip.h"
#include "http/router.h"
#include "service/agent_service.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/binding_service.h"
#include "service/gateway_service.h"
#include "service/policy_service.h"
#include "service/secret_service.h"
#include "service/share_service.h"
#include "service/user_service.h"
#include "service/vault_service.h"
#include "service/webhook_service.h"

namespace coffer::api {

struct ApiServices {
  AuthService& auth;
  AuditLog& audit_log;
  const http::TrustedProxies& trusted_proxies;
  VaultService& vaults;
  SecretService& secrets;
  UserService& users;
  AgentService& agents;
  PolicyService& policies;
  AuditService& audit;
  ShareService& shares;
  WebhookService& webhooks;
  BindingService& bindings;
  GatewayService& gateway;
};

void RegisterRoutes(http::Router& router, const ApiServices& services);

}  // namespace coffer::api
