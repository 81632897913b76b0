// WebhookService: a vault's webhook endpoints — create (the signing secret shown once), list,
// get, delete, the delivery log, and a test event. Only the vault's owner and the admin manage
// them; anyone else is refused (kPermissionDenied), as for deleting the vault. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "model/webhook.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

struct CreateWebhookRequest {
  std::string url;
  std::vector<std::string> events;
  std::string description;
};

struct CreatedWebhook {
  WebhookEndpoint endpoint;
  SecretBuffer secret;  // "whsec_…", returned once and never again
};

struct WebhookServiceOptions {
  bool allow_http = false;  // endpoint URLs may be http:// (else https:// only)
};

// The associated data an endpoint's secret is sealed with, binding it to its vault and id.
std::vector<uint8_t> WebhookSecretAad(std::string_view vault_id, std::string_view webhook_id);

class WebhookService {
 public:
  WebhookService(const ServiceDeps& deps, const Keyring& keyring, WebhookServiceOptions options)
      : deps_(deps), keyring_(keyring), options_(options) {}

  // kInvalidArgument naming url, events or description; kNotFound for an unknown vault;
  // kPermissionDenied unless the caller owns the vault or is the admin. Audited webhook.create.
  StatusOr<CreatedWebhook> Create(const RequestContext& ctx, std::string_view vault_id,
                                  CreateWebhookRequest request);
  // Ordered by creation. Errors as Create's. Audited webhook.list.
  StatusOr<std::vector<WebhookEndpoint>> List(const RequestContext& ctx, std::string_view vault_id);
  // kNotFound for an unknown webhook of this vault, else as List. Audited webhook.read.
  StatusOr<WebhookEndpoint> Get(const RequestContext& ctx, std::string_view vault_id,
                                std::string_view webhook_id);
  // Deletes the endpoint and its deliveries. Errors as Get's. Audited webhook.delete.
  Status Delete(const RequestContext& ctx, std::string_view vault_id, std::string_view webhook_id);
  // The delivery log, newest first, at most `limit` (1–500). Errors as Get's.
  // Audited webhook.deliveries.
  StatusOr<std::vector<WebhookDelivery>> Deliveries(const RequestContext& ctx,
                                                    std::string_view vault_id,
                                                    std::string_view webhook_id, size_t limit);
  // Queues a webhook.test delivery to the endpoint, due at once. Errors as Get's.
  // Audited webhook.test.
  StatusOr<WebhookDelivery> SendTest(const RequestContext& ctx, std::string_view vault_id,
                                     std::string_view webhook_id);

 private:
  // The vault, when the caller may manage its webhooks.
  StatusOr<Vault> Manageable(const RequestContext& ctx, std::string_view vault_id);

  ServiceDeps deps_;
  const Keyring& keyring_;
  const WebhookServiceOptions options_;
};

}  // namespace coffer
