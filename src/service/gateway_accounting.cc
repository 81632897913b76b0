// GatewayService's accounting: the rate limits and budgets a call counts (leased from the store
// in blocks), the record of each call with its binding.use audit event, and the executions list.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.h"
#include "common/non_blocking.h"
#include "service/gateway_paths.h"
#include "service/gateway_service.h"

namespace coffer {
namespace {

constexpr UnixMicros kMinute = 60 * kMicrosPerSecond;
constexpr UnixMicros kDay = 86400 * kMicrosPerSecond;
constexpr int64_t kDefaultExecutionsLimit = 50;
constexpr int64_t kMaxExecutionsLimit = 1000;

std::string AuthOutcomeStatus(const Status& s) { return std::string(StatusCodeName(s.code())); }

}  // namespace

int64_t LeaseBlock(int64_t limit) { return std::clamp<int64_t>(limit / 10, 1, 500); }

void GatewayService::DrainRecords() {
  std::vector<PendingRecord> records;
  {
    MutexLock lock(mu_);
    records.swap(pending_records_);
    records_writing_ += records.size();
  }
  // Queued together, the records share the store's commits. The answers have been sent: a
  // record that cannot be written is lost, not the answer.
  for (PendingRecord& p : records) {
    auto event = std::make_shared<const AuditEvent>(
        RecordEvent(p.ctx, p.record, p.vault_id, p.path, p.outcome));
    if (options_.on_record) options_.on_record(p.record);
    deps_.store.InsertExecutionAsync(std::make_shared<const ExecutionRecord>(std::move(p.record)),
                                     std::move(event), [this](const Status&) {
                                       MutexLock lock(mu_);
                                       if (--records_writing_ == 0) records_written_.NotifyAll();
                                     });
  }
}

void GatewayService::AwaitRecords() {
  DrainRecords();
  MutexLock lock(mu_);
  while (records_writing_ > 0) records_written_.Wait(mu_);
}

Status GatewayService::CountUse(const Binding& binding, int64_t rpm, std::optional<int64_t> per_day,
                                const std::string& agent_id, std::vector<UseCounter>* counted) {
  const UnixMicros now = deps_.clock.Now();
  const UnixMicros minute = now - now % kMinute;
  const UnixMicros day = now - now % kDay;
  std::vector<UseCounter> counters;
  std::vector<std::string> names;
  counters.push_back(UseCounter{"binding-minute:" + binding.id, minute, minute + kMinute, rpm, 1});
  names.push_back(fmt::format("the binding's max_requests_per_minute ({})", rpm));
  if (per_day.has_value()) {
    counters.push_back(UseCounter{"binding-day:" + binding.id, day, day + kDay, *per_day, 1});
    names.push_back(fmt::format("the binding's max_requests_per_day ({})", *per_day));
  }
  counters.push_back(
      UseCounter{"agent-minute:" + agent_id, minute, minute + kMinute, options_.agent_rpm, 1});
  names.push_back(fmt::format("the agent's requests per minute ({})", options_.agent_rpm));
  counters.push_back(
      UseCounter{"agent-day:" + agent_id, day, day + kDay, options_.agent_daily_budget, 1});
  names.push_back(fmt::format("the agent's daily budget ({})", options_.agent_daily_budget));
  ASSIGN_OR_RETURN(const UseDecision decision, CountLeased(counters));
  if (decision.allowed) {
    *counted = std::move(counters);
    return OkStatus();
  }
  const size_t i = std::min(decision.refused_index, names.size() - 1);
  Status refused = ResourceExhaustedError(fmt::format("rate limited: {} is spent", names[i]));
  refused.SetPayload(StatusPayload{
      .retry_after = std::chrono::microseconds(std::max<UnixMicros>(1, decision.retry_at - now))});
  return refused;
}

StatusOr<UseDecision> GatewayService::CountLeased(const std::vector<UseCounter>& counters) {
  std::vector<size_t> leased;  // spent from a lease
  std::vector<size_t> needed;  // to take from the store
  {
    MutexLock lock(lease_mu_);
    for (size_t i = 0; i < counters.size(); ++i) {
      auto it = leases_.find(counters[i].key);
      if (it != leases_.end() && it->second.window_start == counters[i].window_start &&
          it->second.left > 0) {
        --it->second.left;
        leased.push_back(i);
      } else {
        needed.push_back(i);
      }
    }
  }
  if (needed.empty()) return UseDecision{true, 0, 0};
  std::vector<UseCounter> ask;
  ask.reserve(needed.size());
  bool blocks = false;
  for (size_t i : needed) {
    ask.push_back(counters[i]);
    ask.back().amount = LeaseBlock(counters[i].limit);
    blocks = blocks || ask.back().amount > 1;
  }
  auto decision = deps_.store.CountUse(ask);
  if (decision.has_value() && !decision->allowed && blocks) {
    for (UseCounter& c : ask) c.amount = 1;  // near the limit: one use at a time
    decision = deps_.store.CountUse(ask);
  }
  MutexLock lock(lease_mu_);
  if (decision.has_value() && decision->allowed) {
    for (const UseCounter& c : ask) {
      Lease& lease = leases_[c.key];
      if (lease.window_start != c.window_start) lease = Lease{c.window_start, 0};
      lease.left += c.amount - 1;
    }
    return decision;
  }
  for (size_t i : leased) {  // not spent after all
    auto it = leases_.find(counters[i].key);
    if (it != leases_.end() && it->second.window_start == counters[i].window_start) {
      ++it->second.left;
    }
  }
  if (!decision.has_value()) return decision;
  decision->refused_index = needed[std::min(decision->refused_index, needed.size() - 1)];
  return decision;
}

AuditEvent GatewayService::RecordEvent(const RequestContext& ctx, const ExecutionRecord& record,
                                       std::string_view vault_id, std::string_view secret_path,
                                       const Status& outcome) {
  AuditEvent event = deps_.audit.NewEvent(ctx, "binding.use");
  AuditLog::SetTarget(event, vault_id, secret_path);
  event.version = record.secret_version;
  if (record.status == "denied") {
    event.outcome = std::string(AuditOutcome(outcome.code()));
    event.status = AuthOutcomeStatus(outcome);
  } else if (record.status == "success") {
    event.outcome = "success";
    event.status = "OK";
  } else {
    event.outcome = "failure";
    event.status = AuthOutcomeStatus(outcome.ok() ? Status(StatusCode::kUnknown, "") : outcome);
  }
  boost::json::object details;
  details["binding_id"] = record.binding_id;
  details["binding"] = record.binding_name;
  details["method"] = record.method;
  details["upstream_path"] = record.path;
  details["upstream_status"] = record.upstream_status;
  details["request_bytes"] = record.request_bytes;
  details["response_bytes"] = record.response_bytes;
  details["redactions"] = record.redactions;
  details["mode"] = record.mode;
  event.details = boost::json::serialize(details);
  return event;
}

void GatewayService::GiveBack(const std::vector<UseCounter>& counters) {
  MutexLock lock(lease_mu_);
  for (const UseCounter& c : counters) {
    auto it = leases_.find(c.key);
    if (it != leases_.end() && it->second.window_start == c.window_start) ++it->second.left;
  }
}

Status GatewayService::Record(const RequestContext& ctx, const ExecutionRecord& record,
                              std::string_view vault_id, std::string_view secret_path,
                              const Status& outcome) {
  const AuditEvent event = RecordEvent(ctx, record, vault_id, secret_path, outcome);
  Status written = deps_.store.InsertExecution(record, &event);
  // An attempt thrown away (it runs again) is not a call.
  if (options_.on_record && !NonBlockingScope::Refused()) options_.on_record(record);
  if (written.ok()) AuditLog::MarkWritten(ctx);
  return written;
}

Status GatewayService::RecordRefusal(const RequestContext& ctx, const Binding& binding,
                                     const GatewayCallRequest& request, const Status& refusal) {
  ExecutionRecord r;
  r.created_at = deps_.clock.Now();
  r.id = NewUuidV7(deps_.random, r.created_at);  // records are written in time order
  r.agent_id = binding.agent_id;
  r.binding_id = binding.id;
  r.binding_name = binding.name;
  r.mode = request.mode;
  r.status = refusal.code() == StatusCode::kPermissionDenied ||
                     refusal.code() == StatusCode::kResourceExhausted
                 ? "denied"
                 : "error";
  r.method = request.method;
  auto path = NormaliseUpstreamPath(request.path);
  r.path = path.has_value() ? "/" + *path : "";
  r.request_bytes = static_cast<int64_t>(request.body.size());
  r.error_message = std::string(refusal.message());
  Status written = Record(ctx, r, binding.vault_id, binding.path, refusal);
  if (!written.ok()) return UnavailableError("the call's audit record could not be written");
  return refusal;
}

StatusOr<std::vector<ExecutionRecord>> GatewayService::ListExecutions(
    const RequestContext& ctx, std::string_view agent_id, std::optional<int64_t> limit,
    std::optional<int64_t> offset) {
  return deps_.audit.Audited<std::vector<ExecutionRecord>>(
      ctx, "execution.list", [&](AuditEvent&) -> StatusOr<std::vector<ExecutionRecord>> {
        const Principal& p = ctx.principal;
        std::string id(agent_id);
        if (id == "self" && p.kind == PrincipalKind::kAgent) id = p.id;
        if (!IsUuid(id)) return Err(InvalidArgumentError("agent_id must be a UUID or \"self\""));
        auto agent = deps_.store.GetAgent(id);
        if (!agent.has_value()) return Err(NotFoundAs(agent.error(), "agent not found"));
        const bool owner = p.kind == PrincipalKind::kUser && p.id == agent->owner_id;
        const bool self = p.kind == PrincipalKind::kAgent && p.id == agent->id;
        if (!p.is_admin && !owner && !self) return Err(NotFoundError("agent not found"));
        const int64_t n = limit.value_or(kDefaultExecutionsLimit);
        if (n < 1 || n > kMaxExecutionsLimit) {
          return Err(InvalidArgumentError(
              fmt::format("limit must be between 1 and {}", kMaxExecutionsLimit)));
        }
        const int64_t skip = offset.value_or(0);
        if (skip < 0) return Err(InvalidArgumentError("offset must not be negative"));
        return deps_.store.ListExecutions(agent->id, static_cast<size_t>(n),
                                          static_cast<size_t>(skip));
      });
}

}  // namespace coffer
