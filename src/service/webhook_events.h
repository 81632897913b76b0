// The change events a webhook endpoint can ask for, and how each comes from the audit trail:
// a successful audit event's action names zero, one or two event types (docs/webhooks.md).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/identity.h"

namespace coffer {

// Every event type an endpoint may subscribe to, in the order the docs list them.
std::span<const std::string_view> WebhookEventTypes();

// The type of the event POST …/webhooks/{id}/test sends; not subscribable, always delivered.
inline constexpr std::string_view kWebhookTestEvent = "webhook.test";

// `events` sorted and without duplicates. kInvalidArgument naming `events` when it is empty or
// holds a type WebhookEventTypes() does not list.
StatusOr<std::vector<std::string>> NormalizeWebhookEvents(std::vector<std::string> events);

// The event types a successful audit event stands for: secret.write → secret.version_created;
// secret.rotate → secret.rotated and secret.version_created; secret.rotation_due, .expiring and
// .expired → the same names; secret.disable and secret.disable_version →
// secret.version_disabled; agent.rotate_key and agent.self_rotate_key → agent.key_rotated.
// Nothing for any other action or any outcome but "success".
std::vector<std::string_view> WebhookEventsOf(const AuditEvent& event);

}  // namespace coffer
