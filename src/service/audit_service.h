// AuditService: who may read the audit trail (the admin everything; a user the events of the
// vaults they own) and verification of its hash chain (admin). Thread-safe.
#pragma once

#include <vector>

#include "common/status.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

inline constexpr size_t kMaxAuditPage = 1000;

// A vault's activity per hour, from its audit trail (the dashboard's chart).
struct ActivityBucket {
  UnixMicros start = 0;  // the hour's first microsecond
  int64_t reads = 0;     // reads of a value (secret.read)
  int64_t writes = 0;    // new versions, rotations, disables, deletes, alias changes, …
  int64_t refusals = 0;  // requests refused for want of a credential or a permission
};
struct VaultActivity {
  int64_t hours = 0;
  std::vector<ActivityBucket> buckets;  // oldest first, one per hour, the current hour last
};
inline constexpr int64_t kMaxActivityHours = 720;

class AuditService {
 public:
  explicit AuditService(const ServiceDeps& deps) : deps_(deps) {}

  // kPermissionDenied for a non-admin without a vault_id they own; kInvalidArgument for a bad
  // limit or vault id.
  StatusOr<std::vector<AuditEvent>> List(const RequestContext& ctx, AuditQuery query);
  StatusOr<AuditVerification> Verify(const RequestContext& ctx);
  // The last `hours` (1..kMaxActivityHours) hours of the vault's events, counted per hour
  // (vault_activity.cc). Who may: the admin, the owner, or whoever may list some of its paths;
  // the latter count only the events of paths they may list. kInvalidArgument for `hours` or the
  // vault id; kNotFound for a missing vault; kPermissionDenied.
  StatusOr<VaultActivity> Activity(const RequestContext& ctx, std::string_view vault_id,
                                   int64_t hours);

 private:
  ServiceDeps deps_;
};

}  // namespace coffer
