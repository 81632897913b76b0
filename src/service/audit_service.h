// AuditService: who may read the audit trail (the admin everything; a user the events of the
// vaults they own) and verification of its hash chain (admin). Thread-safe.
#pragma once

#include <vector>

#include "common/status.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

inline constexpr size_t kMaxAuditPage = 1000;

class AuditService {
 public:
  explicit AuditService(const ServiceDeps& deps) : deps_(deps) {}

  // kPermissionDenied for a non-admin without a vault_id they own; kInvalidArgument for a bad
  // limit or vault id.
  StatusOr<std::vector<AuditEvent>> List(const RequestContext& ctx, AuditQuery query);
  StatusOr<AuditVerification> Verify(const RequestContext& ctx);

 private:
  ServiceDeps deps_;
};

}  // namespace coffer
