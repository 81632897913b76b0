// GatewayService: calls an agent makes through its bindings with a credential it never holds.
// Each call is checked (the agent and the binding active, the binding's guardrails, the
// binding's and the agent's rate limits and daily budget, shared by every server on the store
// through Store::CountUse, leased in blocks: see LeaseBlock), the secret's current readable version
// attached on the way out
// (`use` or `read` on its path), whatever the upstream echoes of it redacted on the way back,
// and recorded at its end: an ExecutionRecord and a `binding.use` audit event, in one write.
// Calls in flight stop within a second when their agent or binding is deactivated or deleted:
// at once on this server (the store's change feed), within a poll interval on the others.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "gateway/egress_guard.h"
#include "gateway/upstream.h"
#include "model/binding.h"
#include "service/binding_config.h"
#include "service/gateway_paths.h"
#include "service/principal.h"
#include "service/secret_service.h"
#include "service/service_deps.h"
#include "store/change_feed.h"

namespace coffer {

// How many uses of a limit a server takes from the store at once: min(10% of the limit, 500),
// at least 1. The store never counts more than the limit, so all servers together never make
// more calls than the limit in a window; a server may refuse while up to LeaseBlock − 1 uses
// per other server sit unspent in those servers' leases (docs/gateway.md).
int64_t LeaseBlock(int64_t limit);

struct GatewayOptions {
  int64_t agent_rpm = 600;                       // --gateway-agent-rpm
  int64_t agent_daily_budget = 100000;           // --gateway-agent-daily-budget
  std::chrono::milliseconds poll_interval{250};  // how often calls in flight are re-checked
  // Told of every call's record as it is written (metrics). Thread-safe; may be empty.
  std::function<void(const ExecutionRecord&)> on_record;
};

// A call an agent asks for.
struct GatewayCallRequest {
  std::string binding;  // the calling agent's binding, by name or id
  std::string method;   // GET, HEAD, POST, PUT, PATCH, DELETE
  // The upstream path after base_url's path, as sent (percent-encoding kept); a leading '/'
  // is optional. No '.'/'..' segments, no empty segments, no CR/LF or other control bytes.
  std::string path;
  std::string query;                                         // as sent, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // the caller's; filtered
  std::string body;
  // When set, the body arrives through this while the call runs (the proxy); `body` is unused.
  std::shared_ptr<gateway::UpstreamBodySource> body_source;
  std::string mode = "vault";  // "vault" (execute, MCP) or "proxy"
};

// The answer of a synchronous call (Execute).
struct GatewayCallResult {
  std::string execution_id;
  std::string status;  // "success": the upstream answered; "error": it did not
  int status_code = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // passed, redacted
  std::string body;                                          // redacted
  std::string error;                                         // why, for "error"
  int64_t duration_ms = 0;
  int64_t redactions = 0;
};

// Where a streamed answer goes (the proxy). Called in this order, from the upstream client's
// thread: OnHead once if the upstream answered, OnBody any number of times, OnDone exactly once
// (OK: complete; else why it ended: kDeadlineExceeded, kResourceExhausted (too large),
// kCancelled (stopped: the kill switch or the client), kUnavailable (unreachable),
// kPermissionDenied (the egress guard)). Must not block.
class GatewayStreamSink {
 public:
  virtual ~GatewayStreamSink() = default;
  virtual void OnHead(int status, std::vector<std::pair<std::string, std::string>> headers) = 0;
  // Returns false to stop the call (the client went away).
  virtual bool OnBody(std::string_view bytes) = 0;
  virtual void OnDone(Status status) = 0;
  // What came so far has all been passed on (gateway::UpstreamSink::OnIdle): a head and the
  // bytes that came with it may be announced together.
  virtual void OnIdle() {}
};

// A call in flight. Thread-safe.
class GatewayCall {
 public:
  virtual ~GatewayCall() = default;
  virtual void Cancel() = 0;
  virtual const std::string& execution_id() const = 0;
};

class GatewayService {
 public:
  GatewayService(const ServiceDeps& deps, SecretService& secrets, gateway::UpstreamClient& upstream,
                 GatewayOptions options);
  // Stops the watch thread and cancels calls still in flight.
  ~GatewayService();
  GatewayService(const GatewayService&) = delete;
  GatewayService& operator=(const GatewayService&) = delete;

  // Starts watching calls in flight (the change feed and a thread polling the store).
  void Start();
  // Stops watching and cancels every call still in flight. Idempotent.
  void Stop();

  // A call made and answered whole (POST …/execute, MCP). Only the agent itself (`agent_id`
  // its id or "self"). Before the upstream is reached: kPermissionDenied (not the agent, the
  // binding inactive, a guardrail, no `use`/`read` on the secret), kNotFound (no such binding),
  // kResourceExhausted with retry_after (a rate limit or budget), kInvalidArgument (the path,
  // a header), kOutOfRange (the body is over max_request_bytes), kGone (no readable version). An
  // upstream that does not answer is a result with status "error". Blocks until the call ends.
  StatusOr<GatewayCallResult> Execute(const RequestContext& ctx, std::string_view agent_id,
                                      GatewayCallRequest request);

  // A streamed call (the proxy), for the calling agent. The same refusals as Execute, returned;
  // once started, everything goes to `sink`. The record is written when the call ends.
  StatusOr<std::shared_ptr<GatewayCall>> Stream(const RequestContext& ctx,
                                                GatewayCallRequest request,
                                                std::shared_ptr<GatewayStreamSink> sink);

  // The agent's records, newest first: the admin, the agent's owner, or the agent itself.
  // limit 1..1000 (default 50).
  StatusOr<std::vector<ExecutionRecord>> ListExecutions(const RequestContext& ctx,
                                                        std::string_view agent_id,
                                                        std::optional<int64_t> limit,
                                                        std::optional<int64_t> offset);

  // Calls in flight now (for tests and metrics).
  size_t InFlight() const;

  struct Prepared;  // a call checked and ready to start (gateway_service.cc)
  class CallState;  // a started call (gateway_service.cc)

 private:
  // A binding as stored, with its config and guardrails parsed (nullopt: no longer valid).
  struct ResolvedBinding {
    Binding binding;
    std::optional<BindingConfig> config;
    std::optional<BindingGuardrails> guardrails;
  };
  // The calling agent's binding named (or with the id) `ref`: kNotFound for the agent or the
  // binding, kPermissionDenied for an agent not active. Served from a cache kept while the
  // store's change feed is current (as AuthService's), so a changed, deactivated or deleted
  // binding or agent is read afresh; the store otherwise.
  StatusOr<std::shared_ptr<const ResolvedBinding>> Resolve(const std::string& agent_id,
                                                           const std::string& ref);
  void OnStoreChange(const StoreChange& change);
  // Checks a call and builds its upstream request. A refusal after the binding was found is
  // recorded (status "denied") before it is returned.
  StatusOr<std::unique_ptr<Prepared>> Prepare(const RequestContext& ctx,
                                              GatewayCallRequest& request);
  // Starts a prepared call. `record_async`: its record is written by the watch thread when it
  // ends (the proxy); otherwise the caller writes it (Execute).
  std::shared_ptr<CallState> Launch(std::unique_ptr<Prepared> prepared,
                                    std::shared_ptr<GatewayStreamSink> sink, bool record_async);
  // A call's audit event (binding.use).
  AuditEvent RecordEvent(const RequestContext& ctx, const ExecutionRecord& record,
                         std::string_view vault_id, std::string_view secret_path,
                         const Status& outcome);
  // Writes a call's record and its audit event. Status of the store's write.
  Status Record(const RequestContext& ctx, const ExecutionRecord& record, std::string_view vault_id,
                std::string_view secret_path, const Status& outcome);
  // A refused call's record (status "denied" or "error"); returns `refusal`.
  Status RecordRefusal(const RequestContext& ctx, const Binding& binding,
                       const GatewayCallRequest& request, const Status& refusal);
  // Counts one use of the binding's and the agent's limits; on success `*counted` holds the
  // counters (for GiveBack).
  Status CountUse(const Binding& binding, int64_t rpm, std::optional<int64_t> per_day,
                  const std::string& agent_id, std::vector<UseCounter>* counted);
  // Counts one use of each counter: from this server's leases where they have some left, the
  // rest from the store, which leases a block of LeaseBlock(limit) at once (one use at a time
  // when no block fits any more).
  StatusOr<UseDecision> CountLeased(const std::vector<UseCounter>& counters);
  // Returns uses counted from this server's leases to them: an attempt on an I/O thread that is
  // thrown away (common/non_blocking.h) takes nothing from the store, only from its leases.
  void GiveBack(const std::vector<UseCounter>& counters);

  struct PendingRecord {
    RequestContext ctx;
    ExecutionRecord record;
    std::string vault_id;
    std::string path;
    Status outcome;
  };
  void EnqueueRecord(const RequestContext& ctx, const ExecutionRecord& record,
                     const Binding& binding, const Status& outcome);
  // Hands the queued records to the store (which writes them without being waited for).
  void DrainRecords();
  // DrainRecords, then waits until every record handed to the store is written.
  void AwaitRecords();
  void Register(const std::shared_ptr<CallState>& call);
  void Unregister(uint64_t serial);
  // Re-checks the agents and bindings of the calls in flight; cancels the calls of those no
  // longer active.
  void CheckInFlight();
  void WatchLoop();

  ServiceDeps deps_;
  SecretService& secrets_;
  gateway::UpstreamClient& upstream_;
  const GatewayOptions options_;

  mutable Mutex mu_;
  CondVar wake_;
  bool stop_ COFFER_GUARDED_BY(mu_) = false;
  bool recheck_ COFFER_GUARDED_BY(mu_) = false;  // the change feed reported something
  uint64_t next_serial_ COFFER_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, std::weak_ptr<CallState>> in_flight_ COFFER_GUARDED_BY(mu_);
  std::vector<PendingRecord> pending_records_ COFFER_GUARDED_BY(mu_);
  // When the oldest of pending_records_ was queued.
  std::chrono::steady_clock::time_point records_since_ COFFER_GUARDED_BY(mu_);
  size_t records_writing_ COFFER_GUARDED_BY(mu_) = 0;  // handed to the store, not yet written
  CondVar records_written_;                            // records_writing_ fell to 0
  // Uses taken from the store and not yet spent, by counter key (one window at a time).
  struct Lease {
    UnixMicros window_start = 0;
    int64_t left = 0;
  };
  Mutex lease_mu_;
  std::unordered_map<std::string, Lease> leases_ COFFER_GUARDED_BY(lease_mu_);
  // Resolve's cache, by agent id: whether the agent is active, and its bindings by the ref they
  // were asked for. `cache_generation_` grows with every change reported, so that what was read
  // from the store before a change is not kept after it.
  struct CachedAgent {
    bool active = false;
    std::unordered_map<std::string, std::shared_ptr<const ResolvedBinding>> bindings;
  };
  SharedMutex cache_mu_;
  std::unordered_map<std::string, CachedAgent> agents_ COFFER_GUARDED_BY(cache_mu_);
  uint64_t cache_generation_ COFFER_GUARDED_BY(cache_mu_) = 0;
  std::atomic<bool> caching_{false};  // only while the change feed is watched (Start to Stop)
  std::optional<ChangeFeed::Subscription> subscription_;
  std::thread watcher_;
};

}  // namespace coffer
