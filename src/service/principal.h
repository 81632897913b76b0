// Who is asking, and the request they ask in: what every service call receives.
#pragma once

#include <memory>
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

// The outcome of an audit event appended in the background (service/audit_log.h).
class AuditReceipt;

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
  // Set by a caller that can wait for the audit outcome without holding a thread (the HTTP
  // server): an event standing alone (of a request that changed nothing) is then appended in
  // the background, and its outcome is delivered to `audit_receipt`; the caller must not answer
  // before that outcome is OK, and must answer with its error otherwise.
  bool defer_audit = false;
  mutable std::shared_ptr<AuditReceipt> audit_receipt{};
};

}  // namespace coffer
