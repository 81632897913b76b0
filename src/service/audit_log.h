// AuditLog: builds and appends audit events, one per request, and answers audit queries and
// chain verification. Services wrap each operation in Audited(), which records the outcome
// (fail closed: if the event cannot be written, the operation's answer is an error). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/in_flight.h"
#include "common/mutex.h"
#include "common/status.h"
#include "model/identity.h"
#include "service/principal.h"
#include "store/store.h"

namespace coffer {

struct AuditVerification {
  bool ok = true;
  int64_t events_checked = 0;
  std::optional<int64_t> first_broken_seq;
  // The stored hash of the event found where the chain broke (its AuditEventId), if one was.
  std::optional<Sha256Digest> first_broken_hash;
  std::string reason;
  Sha256Digest head_hash{};
};

// "success", or "denied" for 401/403/429-like codes, or "failure".
std::string_view AuditOutcome(StatusCode code);

// A second place for audit events of requests that changed nothing, used only while the store
// refuses them because of a storage fault (disk full, read-only, I/O error): the server log.
// Returns true once the event is recorded there. Must be thread-safe.
using AuditFallback = std::function<bool(const AuditEvent&)>;

// The outcome of an audit event appended in the background. Thread-safe.
class AuditReceipt {
 public:
  // Calls `then` once with the outcome: at once, on this thread, if it is known; otherwise on
  // the thread that completes the receipt. Call at most once.
  void Then(std::function<void(Status)> then) {
    MutexLock lock(mu_);
    if (!outcome_.has_value()) {
      then_ = std::move(then);
      return;
    }
    Status outcome = std::move(*outcome_);
    lock.Unlock();
    then(std::move(outcome));
  }
  // Sets the outcome. Call once.
  void Complete(Status outcome) {
    MutexLock lock(mu_);
    if (!then_) {
      outcome_ = std::move(outcome);
      return;
    }
    std::function<void(Status)> then = std::move(then_);
    lock.Unlock();
    then(std::move(outcome));
  }

 private:
  Mutex mu_;
  std::optional<Status> outcome_ COFFER_GUARDED_BY(mu_);
  std::function<void(Status)> then_ COFFER_GUARDED_BY(mu_);
};

class AuditLog {
 public:
  AuditLog(Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  // Waits for the outcome of every event still being appended in the background.
  // REQUIRES: the store is still open.
  ~AuditLog() { WaitForBackground(); }
  // The same, for an owner that closes the store before the log goes out of scope.
  // REQUIRES: the store is still open.
  void WaitForBackground();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Sets the fallback. REQUIRES: called before any other method, from one thread.
  void SetFallback(AuditFallback fallback) { fallback_ = std::move(fallback); }

  // An event for this request and action, with outcome/status still to be set.
  AuditEvent NewEvent(const RequestContext& ctx, std::string_view action) const;

  // Appends an event for `ctx` (unless one was already written) with the outcome of `result`
  // and marks ctx audited. OK once written (a stand-alone event of a request that changed
  // nothing: in the store's log, fsynced within moments), or — while the store refuses writes
  // because of a storage fault — once the fallback recorded it. Else kUnavailable (fail closed).
  // With ctx.defer_audit set, returns OK at once and delivers that outcome to ctx.audit_receipt.
  Status Record(const RequestContext& ctx, AuditEvent event, const Status& result);

  // An event for a request that never authenticated. Returns OK or kUnavailable.
  Status RecordAnonymous(std::string_view request_id, std::string_view client_ip,
                         std::string_view action, const Status& result);

  // Runs `op` with an event it may fill in (vault, path, version) and pass to a store mutation
  // (then it must set ctx.audited via MarkWritten). Afterwards, if no event was written, records
  // one with op's outcome; if that fails, the answer becomes kUnavailable (fail closed).
  template <typename T>
  StatusOr<T> Audited(const RequestContext& ctx, std::string_view action,
                      const std::function<StatusOr<T>(AuditEvent&)>& op) {
    AuditEvent event = NewEvent(ctx, action);
    StatusOr<T> result = op(event);
    if (ctx.audited) return result;
    RETURN_IF_ERROR(
        Record(ctx, std::move(event), result.has_value() ? OkStatus() : result.error()));
    return result;
  }

  // Completes `event` as a success, for passing into a store mutation.
  static const AuditEvent* Success(AuditEvent& event) {
    event.outcome = "success";
    event.status = "OK";
    return &event;
  }
  // Names what the request is about; ids and paths from the request are kept only when well
  // formed (a UUID; a path of bounded length), so garbage input never fills the log.
  static void SetTarget(AuditEvent& event, std::string_view vault_id, std::string_view path);
  // After a store mutation that carried the event returned OK.
  static void MarkWritten(const RequestContext& ctx) { ctx.audited = true; }

  // Events matching `query` (caller's visibility is checked by the caller).
  StatusOr<std::vector<AuditEvent>> List(const AuditQuery& query) {
    return store_.ListAudit(query);
  }

  // Recomputes the whole chain.
  StatusOr<AuditVerification> Verify();

 private:
  // What Record answers for a stand-alone event once the store's append came back `appended`.
  Status AfterAppend(const Status& appended, const AuditEvent& event) const;

  Store& store_;
  const Clock& clock_;
  AuditFallback fallback_;
  InFlight background_;  // events appended in the background, outcome not yet delivered
};

}  // namespace coffer
