// WebhookService: the rules of managing a vault's webhook endpoints. The signing secret is drawn
// here, sealed by the keyring before it reaches the store, and returned to the caller once.
#include "service/webhook_service.h"

#include <fmt/format.h>

#include "common/ids.h"
#include "common/time_format.h"
#include "gateway/http_client.h"
#include "service/audit_log.h"
#include "service/vault_service.h"
#include "service/webhook_events.h"
#include "service/webhook_payload.h"
#include "service/webhook_signature.h"

namespace coffer {

namespace {

Status ValidateWebhookId(std::string_view id) {
  if (!IsUuid(id)) return InvalidArgumentError("webhook_id must be a UUID");
  return OkStatus();
}

}  // namespace

std::vector<uint8_t> WebhookSecretAad(std::string_view vault_id, std::string_view webhook_id) {
  const std::string aad = fmt::format("coffer-webhook-secret|{}|{}", vault_id, webhook_id);
  return std::vector<uint8_t>(aad.begin(), aad.end());
}

StatusOr<Vault> WebhookService::Manageable(const RequestContext& ctx, std::string_view vault_id) {
  RETURN_IF_ERROR(ValidateVaultId(vault_id));
  auto vault = deps_.cache.GetVault(vault_id);
  if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
  if (!Authorizer::IsOwner(ctx.principal, *vault)) {
    return Err(
        PermissionDeniedError("only the vault's owner or the admin may manage its webhooks"));
  }
  return vault;
}

StatusOr<CreatedWebhook> WebhookService::Create(const RequestContext& ctx,
                                                std::string_view vault_id,
                                                CreateWebhookRequest request) {
  return deps_.audit.Audited<CreatedWebhook>(
      ctx, "webhook.create", [&](AuditEvent& event) -> StatusOr<CreatedWebhook> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, Manageable(ctx, vault_id));
        RETURN_IF_ERROR(gateway::ValidateOutboundUrl(request.url, options_.allow_http));
        ASSIGN_OR_RETURN(std::vector<std::string> events,
                         NormalizeWebhookEvents(std::move(request.events)));
        if (request.description.size() > 1024 ||
            request.description.find('\0') != std::string::npos) {
          return Err(InvalidArgumentError(
              "description must be at most 1024 bytes without a NUL character"));
        }
        WebhookEndpoint w;
        w.id = NewUuid(deps_.random);
        w.vault_id = vault.id;
        w.url = std::move(request.url);
        w.description = std::move(request.description);
        w.events = std::move(events);
        w.created_by = ctx.principal.id;
        w.created_at = deps_.clock.Now();
        SecretBuffer key(kWebhookKeyBytes);
        RETURN_IF_ERROR(deps_.random.Fill(std::span<uint8_t>(key.data(), key.size())));
        ASSIGN_OR_RETURN(w.sealed_secret,
                         keyring_.Encrypt(std::span<const uint8_t>(key.data(), key.size()),
                                          WebhookSecretAad(w.vault_id, w.id)));
        RETURN_IF_ERROR(deps_.store.InsertWebhook(w, AuditLog::Success(event)));
        AuditLog::MarkWritten(ctx);
        return CreatedWebhook{std::move(w), SecretBuffer(EncodeWebhookSecret(key))};
      });
}

StatusOr<std::vector<WebhookEndpoint>> WebhookService::List(const RequestContext& ctx,
                                                            std::string_view vault_id) {
  return deps_.audit.Audited<std::vector<WebhookEndpoint>>(
      ctx, "webhook.list", [&](AuditEvent& event) -> StatusOr<std::vector<WebhookEndpoint>> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, Manageable(ctx, vault_id));
        return deps_.store.ListWebhooks(vault.id);
      });
}

StatusOr<WebhookEndpoint> WebhookService::Get(const RequestContext& ctx, std::string_view vault_id,
                                              std::string_view webhook_id) {
  return deps_.audit.Audited<WebhookEndpoint>(
      ctx, "webhook.read", [&](AuditEvent& event) -> StatusOr<WebhookEndpoint> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, Manageable(ctx, vault_id));
        RETURN_IF_ERROR(ValidateWebhookId(webhook_id));
        return deps_.store.GetWebhook(vault.id, webhook_id);
      });
}

Status WebhookService::Delete(const RequestContext& ctx, std::string_view vault_id,
                              std::string_view webhook_id) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "webhook.delete", [&](AuditEvent& event) -> StatusOr<bool> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, Manageable(ctx, vault_id));
        RETURN_IF_ERROR(ValidateWebhookId(webhook_id));
        RETURN_IF_ERROR(deps_.store.DeleteWebhook(vault.id, webhook_id, AuditLog::Success(event)));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

StatusOr<std::vector<WebhookDelivery>> WebhookService::Deliveries(const RequestContext& ctx,
                                                                  std::string_view vault_id,
                                                                  std::string_view webhook_id,
                                                                  size_t limit) {
  return deps_.audit.Audited<std::vector<WebhookDelivery>>(
      ctx, "webhook.deliveries", [&](AuditEvent& event) -> StatusOr<std::vector<WebhookDelivery>> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, Manageable(ctx, vault_id));
        RETURN_IF_ERROR(ValidateWebhookId(webhook_id));
        if (limit < 1 || limit > 500) {
          return Err(InvalidArgumentError("limit must be from 1 to 500"));
        }
        RETURN_IF_ERROR(deps_.store.GetWebhook(vault.id, webhook_id));
        return deps_.store.ListWebhookDeliveries(webhook_id, limit);
      });
}

StatusOr<WebhookDelivery> WebhookService::SendTest(const RequestContext& ctx,
                                                   std::string_view vault_id,
                                                   std::string_view webhook_id) {
  return deps_.audit.Audited<WebhookDelivery>(
      ctx, "webhook.test", [&](AuditEvent& event) -> StatusOr<WebhookDelivery> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, Manageable(ctx, vault_id));
        RETURN_IF_ERROR(ValidateWebhookId(webhook_id));
        ASSIGN_OR_RETURN(WebhookEndpoint w, deps_.store.GetWebhook(vault.id, webhook_id));
        const UnixMicros now = deps_.clock.Now();
        WebhookDelivery d;
        ASSIGN_OR_RETURN(d.id, NewWebhookMessageId(deps_.random));
        d.webhook_id = w.id;
        d.vault_id = w.vault_id;
        d.event_type = std::string(kWebhookTestEvent);
        d.payload_json = WebhookTestPayload(w, ctx.principal, now);
        d.created_at = now;
        d.next_attempt_at = now;
        RETURN_IF_ERROR(
            deps_.store.EnqueueWebhookDeliveries({d}, std::nullopt, 0, AuditLog::Success(event)));
        AuditLog::MarkWritten(ctx);
        return d;
      });
}

}  // namespace coffer
