// CofferClient's calls of /v1/vaults/{vault_id}/webhooks (docs/webhooks.md).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "client/api_json.h"
#include "client/api_target.h"
#include "client/coffer_client.h"

namespace coffer::client {

namespace json = boost::json;

namespace {

std::string WebhooksTarget(std::string_view vault_id) {
  return "/v1/vaults/" + Id(vault_id) + "/webhooks";
}

}  // namespace

StatusOr<WipedJson> CofferClient::CreateWebhook(std::string_view vault_id, std::string_view url,
                                                const std::vector<std::string>& events,
                                                std::string_view description) {
  json::object body;
  body["url"] = url;
  json::array list;
  for (const std::string& e : events) list.push_back(json::string(e));
  body["events"] = std::move(list);
  if (!description.empty()) body["description"] = description;
  return Call("POST", WebhooksTarget(vault_id), Serialize(body));
}

StatusOr<WipedJson> CofferClient::ListWebhooks(std::string_view vault_id) {
  return Call("GET", WebhooksTarget(vault_id));
}

Status CofferClient::DeleteWebhook(std::string_view vault_id, std::string_view webhook_id) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", WebhooksTarget(vault_id) + "/" + Id(webhook_id)));
  return OkStatus();
}

StatusOr<WipedJson> CofferClient::ListWebhookDeliveries(std::string_view vault_id,
                                                        std::string_view webhook_id,
                                                        int64_t limit) {
  return Call("GET", WebhooksTarget(vault_id) + "/" + Id(webhook_id) +
                         "/deliveries?limit=" + std::to_string(limit));
}

StatusOr<WipedJson> CofferClient::TestWebhook(std::string_view vault_id,
                                              std::string_view webhook_id) {
  return Call("POST", WebhooksTarget(vault_id) + "/" + Id(webhook_id) + "/test");
}

}  // namespace coffer::client
