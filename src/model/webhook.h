// Webhook endpoints of a vault and the deliveries queued for them (docs/webhooks.md): plain
// rows, as the store keeps them. A delivery's payload names what changed (vault, path, version,
// actor), never a value; an endpoint's signing secret is kept only sealed under the keyring.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace coffer {

struct WebhookEndpoint {
  std::string id;  // UUID
  std::string vault_id;
  std::string url;
  std::string description;
  std::vector<std::string> events;  // event types (service/webhook_events.h), sorted, unique
  // The signing secret's key bytes, sealed by the keyring (AES-GCM, bound to vault and id).
  std::vector<uint8_t> sealed_secret;
  std::string created_by;
  UnixMicros created_at = 0;
  // Set by the store: the audit seq the chain had reached when the endpoint was inserted. Only
  // later events are delivered to it.
  int64_t start_after_seq = 0;
};

enum class WebhookDeliveryState : uint8_t { kPending, kDelivered, kFailed };

std::string_view WebhookDeliveryStateName(WebhookDeliveryState state);
// The state a name written by WebhookDeliveryStateName stands for (kPending for anything else).
WebhookDeliveryState ParseWebhookDeliveryState(std::string_view name);

// An endpoint's event types as the stores keep them: joined by single spaces, and back.
std::string JoinWebhookEvents(const std::vector<std::string>& events);
std::vector<std::string> SplitWebhookEvents(std::string_view joined);

struct WebhookDelivery {
  std::string id;  // "msg_…": the webhook-id header, the same on every attempt
  std::string webhook_id;
  std::string vault_id;
  std::string event_type;    // "secret.version_created", …, or "webhook.test"
  int64_t audit_seq = 0;     // the audit event it comes from; 0 for webhook.test
  std::string payload_json;  // the request body, fixed when queued: no value ever
  UnixMicros created_at = 0;
  WebhookDeliveryState state = WebhookDeliveryState::kPending;
  int64_t attempts = 0;
  UnixMicros next_attempt_at = 0;  // while pending
  std::optional<UnixMicros> last_attempt_at;
  int64_t last_status_code = 0;  // the receiver's HTTP status of the last attempt; 0: none
  std::string last_error;        // why the last attempt failed ("" after a success)
  std::string lease_owner;       // who is sending it now ("" when nobody)
  UnixMicros lease_until = 0;
};

// What one attempt of a delivery came to (Store::FinishWebhookAttempt).
struct WebhookAttempt {
  std::string delivery_id;
  std::string lease_owner;  // must still hold the lease
  UnixMicros at = 0;
  int64_t status_code = 0;
  std::string error;
  WebhookDeliveryState state =
      WebhookDeliveryState::kPending;  // kPending: retry at next_attempt_at
  UnixMicros next_attempt_at = 0;
};

}  // namespace coffer
