// ObservedStore: a Store that forwards every call to another and reports how long each took,
// refused rate-limit hits and audit events that could not be written, for metrics. It adds no
// behaviour of its own, so it works over any backend.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "common/monotonic_clock.h"
#include "store/store.h"

namespace coffer {

// Told about store calls. Every method may be called from many threads at once and must not
// block or call back into the store.
class StoreObserver {
 public:
  virtual ~StoreObserver() = default;
  // After each call: its name (the Store method, e.g. "GetSecretVersion") and how long it took.
  virtual void OnStoreCall(std::string_view operation, std::chrono::nanoseconds elapsed,
                           bool ok) = 0;
  // HitRateLimit refused a hit. `limit` is the part of the key before its first ':' (the
  // limiter's name, e.g. "agent-self-rotate"), never what follows (a client address).
  virtual void OnRateLimitRefused(std::string_view limit) = 0;
  // An audit event could not be made durable: AppendAudit failed, or a mutation carrying an
  // event failed for a reason other than its own outcome (the store was unavailable, the
  // commit failed). The request it belonged to was refused (fail closed).
  virtual void OnAuditWriteFailed() = 0;
};

// Wraps `inner`, timing calls on `clock`; `inner`, `observer` and `clock` must outlive the
// result. Thread-safe as `inner` is.
std::unique_ptr<Store> NewObservedStore(Store& inner, StoreObserver& observer,
                                        const MonotonicClock& clock = DefaultMonotonicClock());

}  // namespace coffer
