// The bodies webhook deliveries carry (docs/webhooks.md): {"type", "timestamp", "data"}, with
// data naming what changed — vault, path, version, actor — and never a value.
#pragma once

#include <string>
#include <string_view>

#include "common/random.h"
#include "common/status.h"
#include "model/identity.h"
#include "model/webhook.h"
#include "service/principal.h"

namespace coffer {

// "msg_" + 32 random hex digits: a delivery's id and its webhook-id header. The random
// source's error when it fails.
StatusOr<std::string> NewWebhookMessageId(Random& random);

// The body of event `type` from audit event `event`; `agent_id` for agent.key_rotated.
std::string WebhookEventPayload(std::string_view type, const AuditEvent& event,
                                std::string_view agent_id);

// The body of a webhook.test event sent by `by` at `at`.
std::string WebhookTestPayload(const WebhookEndpoint& endpoint, const Principal& by, UnixMicros at);

}  // namespace coffer
