// What every service needs: the store, the clocks, cached access data, the authorizer, the audit
// log and the random source of new ids. Owned by the caller (main wiring or a test); outlives the
// services.
#pragma once

#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/random.h"
#include "service/access_cache.h"
#include "service/audit_log.h"
#include "service/authorizer.h"
#include "service/usage_recorder.h"
#include "store/store.h"

namespace coffer {

struct ServiceDeps {
  Store& store;
  const Clock& clock;
  AccessCache& cache;
  Authorizer& authorizer;
  AuditLog& audit;
  Random& random;                         // ids of what the services create
  const MonotonicClock& monotonic_clock;  // intervals of the services' background threads
  UsageRecorder* usage = nullptr;         // where reads and agents' use are counted; may be null
};

}  // namespace coffer
