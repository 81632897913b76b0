// The table from audit actions to webhook event types, and the validation of a subscription.
#include "service/webhook_events.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace coffer {

namespace {

constexpr std::string_view kTypes[] = {
    "secret.version_created", "secret.rotated",          "secret.rotation_due", "secret.expiring",
    "secret.expired",         "secret.version_disabled", "agent.key_rotated",
};

struct ActionEvents {
  std::string_view action;
  std::string_view first;
  std::string_view second;  // "" for none
};

constexpr ActionEvents kFromAudit[] = {
    {"secret.write", "secret.version_created", ""},
    {"secret.rotate", "secret.rotated", "secret.version_created"},
    {"secret.rotation_due", "secret.rotation_due", ""},
    {"secret.expiring", "secret.expiring", ""},
    {"secret.expired", "secret.expired", ""},
    {"secret.disable", "secret.version_disabled", ""},
    {"secret.disable_version", "secret.version_disabled", ""},
    {"agent.rotate_key", "agent.key_rotated", ""},
    {"agent.self_rotate_key", "agent.key_rotated", ""},
};

}  // namespace

std::span<const std::string_view> WebhookEventTypes() { return kTypes; }

StatusOr<std::vector<std::string>> NormalizeWebhookEvents(std::vector<std::string> events) {
  if (events.empty()) {
    return Err(InvalidArgumentError(fmt::format(
        "events must name at least one event type (one of: {})", fmt::join(kTypes, ", "))));
  }
  for (const std::string& e : events) {
    if (std::find(std::begin(kTypes), std::end(kTypes), e) == std::end(kTypes)) {
      std::string shown = e.substr(0, 64);
      for (char& c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
      }
      return Err(InvalidArgumentError(fmt::format("events: unknown event type '{}' (known: {})",
                                                  shown, fmt::join(kTypes, ", "))));
    }
  }
  std::sort(events.begin(), events.end());
  events.erase(std::unique(events.begin(), events.end()), events.end());
  return events;
}

std::vector<std::string_view> WebhookEventsOf(const AuditEvent& event) {
  if (event.outcome != "success") return {};
  for (const ActionEvents& row : kFromAudit) {
    if (row.action != event.action) continue;
    if (row.second.empty()) return {row.first};
    return {row.first, row.second};
  }
  return {};
}

}  // namespace coffer
