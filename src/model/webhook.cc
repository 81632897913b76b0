// Names of webhook delivery states, as the API and the store write them.
#include "model/webhook.h"

namespace coffer {

std::string_view WebhookDeliveryStateName(WebhookDeliveryState state) {
  switch (state) {
    case WebhookDeliveryState::kDelivered:
      return "delivered";
    case WebhookDeliveryState::kFailed:
      return "failed";
    case WebhookDeliveryState::kPending:
      break;
  }
  return "pending";
}

WebhookDeliveryState ParseWebhookDeliveryState(std::string_view name) {
  if (name == "delivered") return WebhookDeliveryState::kDelivered;
  if (name == "failed") return WebhookDeliveryState::kFailed;
  return WebhookDeliveryState::kPending;
}

std::string JoinWebhookEvents(const std::vector<std::string>& events) {
  std::string joined;
  for (const std::string& e : events) {
    if (!joined.empty()) joined += ' ';
    joined += e;
  }
  return joined;
}

std::vector<std::string> SplitWebhookEvents(std::string_view joined) {
  std::vector<std::string> events;
  while (!joined.empty()) {
    const size_t space = joined.find(' ');
    if (space != 0) events.emplace_back(joined.substr(0, space));
    if (space == std::string_view::npos) break;
    joined.remove_prefix(space + 1);
  }
  return events;
}

}  // namespace coffer
