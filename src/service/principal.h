// Who is asking, and the request they ask in: what every service call receives.
#pragma once

#include <string>

#include "model/secret.h"

namespace coffer {

struct Principal {
  PrincipalKind kind = PrincipalKind::kUser;
  std::string id;
  std::string name;
  bool is_admin = false;
  std::string credential_id;  // public id of the API key (or the key a JWT was exchanged for)
};

struct RequestContext {
  Principal principal;
  std::string request_id;
  std::string client_ip;
  // Set once this request's audit event is durable, so exactly one event is written per
  // request. A context belongs to one request on one thread.
  mutable bool audited = false;
  // The protocol's answer if the request succeeds (e.g. HTTP 201), recorded in its audit event;
  // 0 when the caller does not say.
  int success_status = 0;
};

}  // namespace coffer
