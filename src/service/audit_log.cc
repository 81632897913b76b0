// Audit events: construction, recording, verification of the hash chain.
#include "service/audit_log.h"

#include <fmt/format.h>

#include "common/ids.h"
#include "common/non_blocking.h"
#include "common/storage_fault.h"
#include "model/secret_path.h"

namespace coffer {

std::string_view AuditOutcome(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "success";
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
    case StatusCode::kResourceExhausted:
      return "denied";
    default:
      return "failure";
  }
}

AuditEvent AuditLog::NewEvent(const RequestContext& ctx, std::string_view action) const {
  AuditEvent e;
  e.at = clock_.Now();
  e.request_id = ctx.request_id;
  e.actor_kind =
      ctx.principal.id.empty() ? "anonymous" : std::string(PrincipalKindName(ctx.principal.kind));
  e.actor_id = ctx.principal.id;
  e.action = std::string(action);
  e.client_ip = ctx.client_ip;
  e.http_status = ctx.success_status;  // kept only if the request succeeds
  return e;
}

void AuditLog::SetTarget(AuditEvent& event, std::string_view vault_id, std::string_view path) {
  event.vault_id = IsUuid(vault_id) ? std::string(vault_id) : "";
  event.path = path.size() <= kMaxSecretPathLength ? std::string(path) : "";
}

void AuditLog::WaitForBackground() { background_.WaitForNone(); }

Status AuditLog::Record(const RequestContext& ctx, AuditEvent event, const Status& result) {
  if (ctx.audited) return OkStatus();
  if (NonBlockingScope::Refused()) {
    // This attempt is thrown away and the request run again where it may wait; that run
    // writes the request's one event.
    return UnavailableError("the request is run again on another thread");
  }
  event.outcome = std::string(AuditOutcome(result.code()));
  event.status = std::string(StatusCodeName(result.code()));
  if (!result.ok()) event.http_status = 0;
  if (ctx.defer_audit) {
    auto receipt = std::make_shared<AuditReceipt>();
    ctx.audit_receipt = receipt;
    ctx.audited = true;  // the event is on its way; the caller waits on the receipt
    background_.Add();
    auto shared = std::make_shared<const AuditEvent>(std::move(event));
    store_.AppendAuditAsync(shared, [this, shared, receipt](Status appended) {
      receipt->Complete(AfterAppend(appended, *shared));
      background_.Done();
    });
    return OkStatus();
  }
  auto appended = store_.AppendAudit(event);
  Status outcome = AfterAppend(appended.has_value() ? OkStatus() : appended.error(), event);
  if (outcome.ok()) {
    ctx.audited = true;
  }
  return outcome;
}

Status AuditLog::AfterAppend(const Status& appended, const AuditEvent& event) const {
  if (appended.ok()) {
    return OkStatus();
  }
  const StorageFault fault = appended.payload().storage_fault;
  // A stand-alone event is of a request that changed nothing (a read, a refusal, a failed
  // write): while the store cannot be written, the fallback (the server log) records it, so
  // reads go on; a write or counted read still fails, inside its own transaction.
  if (fault != StorageFault::kNone && fallback_ && fallback_(event)) {
    return OkStatus();
  }
  // Only the storage fault is passed on: it names the cause (the 503's type) without any
  // internal detail of the store's message.
  return StorageFaultError(fault, "the audit log cannot be written; the request was refused");
}

Status AuditLog::RecordAnonymous(std::string_view request_id, std::string_view client_ip,
                                 std::string_view action, const Status& result) {
  RequestContext ctx;
  ctx.request_id = std::string(request_id);
  ctx.client_ip = std::string(client_ip);
  return Record(ctx, NewEvent(ctx, action), result);
}

StatusOr<AuditVerification> AuditLog::Verify() {
  AuditVerification v;
  Sha256Digest prev{};
  int64_t expected_seq = 1;
  Status scan = store_.ScanAudit([&](const AuditEvent& e) {
    ++v.events_checked;
    std::string problem;
    if (e.seq != expected_seq) {
      problem = fmt::format("expected event {} but found {}", expected_seq, e.seq);
    } else if (e.prev_hash != prev) {
      problem = "prev_hash does not match the previous event's hash";
    } else if (AuditChainHash(prev, e) != e.hash) {
      problem = "the event's content does not match its hash";
    }
    if (!problem.empty()) {
      v.ok = false;
      v.first_broken_seq = expected_seq;
      v.first_broken_hash = e.hash;
      v.reason = std::move(problem);
      return false;
    }
    prev = e.hash;
    ++expected_seq;
    return true;
  });
  RETURN_IF_ERROR(scan);
  v.head_hash = prev;
  return v;
}

}  // namespace coffer
