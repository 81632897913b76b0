// What every service needs: the store, the clock, cached access data, the authorizer and the
// audit log. Owned by the caller (main wiring or a test); outlives the services.
#pragma once

#include "common/clock.h"
#include "service/access_cache.h"
#include "service/audit_log.h"
#include "service/authorizer.h"
#include "store/store.h"

namespace coffer {

struct ServiceDeps {
  Store& store;
  const Clock& clock;
  AccessCache& cache;
  Authorizer& authorizer;
  AuditLog& audit;
};

}  // namespace coffer
