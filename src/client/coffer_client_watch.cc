// CofferClient's long poll of a secret: a 304 is "nothing newer yet", not an error.
#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <string>

#include "client/api_json.h"
#include "client/api_target.h"
#include "client/coffer_client.h"
#include "client/problem.h"

namespace coffer::client {

namespace json = boost::json;

StatusOr<std::optional<SecretValue>> CofferClient::WaitForSecret(std::string_view vault_id,
                                                                 std::string_view path,
                                                                 int64_t after_version,
                                                                 int wait_seconds) {
  std::string target = SecretTarget(vault_id, "secrets", path);
  AddQuery(target, "wait", std::to_string(wait_seconds));
  AddQuery(target, "after_version", std::to_string(after_version));
  ASSIGN_OR_RETURN(HttpResponse response, transport_->Send("GET", target, &token_, {}));
  if (response.status == 304) {
    return std::optional<SecretValue>();
  }
  if (response.status < 200 || response.status >= 300) {
    return Err(
        ProblemStatus(ParseProblem(response.status, response.content_type, response.body.view())));
  }
  ASSIGN_OR_RETURN(WipedJson doc, WipedJson::Parse(response.body.view()));
  ASSIGN_OR_RETURN(const json::object* o, ObjectOf(doc));
  const json::value* v = o->if_contains("value");
  if (v == nullptr || !v->is_string()) {
    return Err(Unexpected("no 'value' in the secret"));
  }
  return std::optional<SecretValue>(
      SecretValue{.meta = ToSecretMeta(*o), .value = SecretField(*o, "value")});
}

}  // namespace coffer::client
