// CofferClient's calls for secrets' rotation schedules (PUT/DELETE secret-schedule).
#include "client/api_json.h"
#include "client/coffer_client.h"

namespace coffer::client {

StatusOr<boost::json::object> CofferClient::ScheduleSecret(std::string_view vault_id,
                                                           std::string_view path,
                                                           std::string_view policy_json) {
  ASSIGN_OR_RETURN(WipedJson doc,
                   Call("PUT", SecretTarget(vault_id, "secret-schedule", path), policy_json));
  ASSIGN_OR_RETURN(const boost::json::object* o, ObjectOf(doc));
  return PlainCopy(*o);
}

Status CofferClient::UnscheduleSecret(std::string_view vault_id, std::string_view path) {
  ASSIGN_OR_RETURN(WipedJson doc, Call("DELETE", SecretTarget(vault_id, "secret-schedule", path)));
  return OkStatus();
}

}  // namespace coffer::client
