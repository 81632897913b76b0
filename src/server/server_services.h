// The services of `coffer server`, wired in order over its store, clock, keyring and telemetry,
// with the background work they need (authentication-failure summaries, the keyring's refresh)
// and the routes that expose them.
#pragma once

#include <memory>
#include <string>

#include "api/seal_routes.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/random.h"
#include "common/status.h"
#include "crypto/key_provider.h"
#include "crypto/keyring.h"
#include "gateway/http_client.h"
#include "http/client_ip.h"
#include "http/router.h"
#include "server/config.h"
#include "server/server_telemetry.h"
#include "service/access_cache.h"
#include "service/agent_service.h"
#include "service/audit_log.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/authorizer.h"
#include "service/binding_service.h"
#include "service/gateway_service.h"
#include "service/key_grace.h"
#include "service/keyring_refresher.h"
#include "service/policy_service.h"
#include "service/rotation_scheduler.h"
#include "service/secret_service.h"
#include "service/service_deps.h"
#include "service/share_service.h"
#include "service/user_service.h"
#include "service/vault_service.h"
#include "service/webhook_dispatcher.h"
#include "service/webhook_service.h"
#include "store/store.h"

namespace coffer::server {

// What the services are built over. Everything named here outlives the ServerServices.
struct ServiceInputs {
  const ServerConfig& config;
  Store& raw_store;       // the store itself: the keyring refresher and the readiness probe
  Store& observed_store;  // the store as the services reach it, timed for /metrics
  const Clock& clock;
  Random& random;  // ids of what the services create
  KeyProvider& provider;
  Keyring& keyring;
  ServerTelemetry& telemetry;
};

// Not copyable or movable (the services hold references to each other).
class ServerServices {
 public:
  // Builds the services and starts their background threads.
  explicit ServerServices(const ServiceInputs& in);
  ServerServices(const ServerServices&) = delete;
  ServerServices& operator=(const ServerServices&) = delete;

  // The URL the server listens at ("http://127.0.0.1:8200"), the base of the links it makes when
  // no public_url is configured. Thread-safe.
  void SetListeningUrl(std::string url);

  // Adds the API routes, /v1/ready and /metrics to `router`. `proxies` outlives the router.
  void RegisterRoutes(http::Router& router, const http::TrustedProxies& proxies);

  // Adds POST /v1/sys/seal (an admin seals a server started from unseal shares;
  // server/seal_gate.h).
  void RegisterSealRoute(http::Router& router, const http::TrustedProxies& proxies,
                         const api::SealControl& control);
  // The audit log, for events of requests the services did not answer (unseal attempts).
  AuditLog& audit_log() { return audit_log_; }

  // Ends the background work, in the order the store needs before it closes: the failure counts
  // still pending go into the audit log, every audit event is appended, and the keyring
  // refresher, which reads the store, stops (after the rotation scheduler and the webhook
  // dispatcher, which do too). Call once, after the HTTP server has stopped.
  void Stop();

 private:
  // OK when the store answers a read (an unknown user is a fine answer) and the keyring holds
  // an active data key; else kUnavailable saying which. Thread-safe.
  Status Ready() const;
  // public_url, or else the listening URL. Thread-safe.
  std::string PublicBaseUrl() const;

  ServiceInputs in_;
  mutable Mutex url_mu_;
  std::string listening_url_ COFFER_GUARDED_BY(url_mu_);
  AccessCache cache_;
  Authorizer authorizer_;
  AuditLog audit_log_;
  std::unique_ptr<UsageRecorder> usage_;  // before deps_, which points at it
  ServiceDeps deps_;
  AuthService auth_;
  VaultService vaults_;
  std::unique_ptr<KeyringRefresher> refresher_;
  SecretService secrets_;
  UserService users_;
  AgentService agents_;
  PolicyService policies_;
  AuditService audit_;
  ShareService shares_;
  WebhookService webhooks_;
  std::unique_ptr<gateway::HttpClient> http_;  // outbound, under the egress guard
  std::unique_ptr<WebhookDispatcher> dispatcher_;
  // The agent gateway: one streaming client for every call, under the same egress guard.
  std::unique_ptr<gateway::UpstreamClient> upstream_;
  std::unique_ptr<BindingService> bindings_;
  std::unique_ptr<GatewayService> gateway_;
  // Started last and stopped first: it uses the secrets' store and keyring.
  std::unique_ptr<RotationScheduler> scheduler_;
  // Audits the end of rotated keys' grace windows (last: its thread uses the store only).
  std::unique_ptr<KeyGraceSweeper> grace_sweeper_;
};

}  // namespace coffer::server
