// Metric families of the server and the request observer that feeds them.
#include "server/server_telemetry.h"

#include <array>
#include <string>

#include "server/json_log.h"

namespace coffer::server {

namespace {

// Methods a client may send to an unknown route are many; only these become label values.
std::string_view MethodLabel(std::string_view method, bool matched) {
  static constexpr std::array<std::string_view, 7> kKnown = {"GET",    "HEAD",  "POST",   "PUT",
                                                             "DELETE", "PATCH", "OPTIONS"};
  for (std::string_view known : kKnown) {
    if (method == known) {
      return known;
    }
  }
  return matched ? method : "other";
}

}  // namespace

ServerTelemetry::ServerTelemetry()
    : requests_(registry_.AddCounterFamily(
          "coffer_http_requests_total",
          "HTTP requests answered, by method, route template (\"unmatched\" when no route "
          "matched) and status.",
          {"method", "route", "status"})),
      request_seconds_(registry_.AddHistogramFamily(
          "coffer_http_request_duration_seconds",
          "Time from the first byte of a request to the end of its response, by route template.",
          {"method", "route"}, http::LatencyBuckets())),
      store_seconds_(registry_.AddHistogramFamily(
          "coffer_store_operation_duration_seconds",
          "Duration of store calls by operation (writes include waiting for their group commit).",
          {"operation"}, http::LatencyBuckets())),
      store_errors_(registry_.AddCounterFamily(
          "coffer_store_operation_errors_total",
          "Store calls that returned an error (including not-found answers), by operation.",
          {"operation"})),
      rate_limit_refusals_(registry_.AddCounterFamily(
          "coffer_rate_limit_refusals_total", "Requests refused by a rate limit (429), by limit.",
          {"limit"})),
      audit_failures_(registry_.AddCounter(
          "coffer_audit_write_failures_total",
          "Audit events the store could not take (each refused its request, unless it went to "
          "the log instead: coffer_audit_fallback_events_total).")),
      audit_fallbacks_(registry_.AddCounter(
          "coffer_audit_fallback_events_total",
          "Audit events of requests that changed nothing, written to the server log (an ALERT "
          "line audit_event_not_in_store) because a storage fault kept them out of the store; "
          "they are not in the hash chain.")),
      gateway_calls_(registry_.AddCounterFamily(
          "coffer_gateway_calls_total",
          "Calls agents made through their bindings, by mode (vault: execute; proxy) and status "
          "(success, error, denied, cancelled).",
          {"mode", "status"})) {
  const auto started = std::chrono::system_clock::now();
  registry_.AddCallback(
      "coffer_start_time_seconds", "When this server started (Unix time).", "gauge",
      [started] { return std::chrono::duration<double>(started.time_since_epoch()).count(); });
}

void ServerTelemetry::OnRequest(const http::RequestLogEntry& entry) {
  const bool matched = !entry.route_template.empty();
  const std::string_view method = MethodLabel(entry.request->method, matched);
  const std::string_view route = matched ? entry.route_template : "unmatched";
  const std::string status = std::to_string(entry.status);
  requests_.With({method, route, status}).Inc();
  request_seconds_.With({method, route})
      .Observe(std::chrono::duration<double>(entry.duration).count());
  LogRequest(entry);
}

void ServerTelemetry::OnStoreCall(std::string_view operation, std::chrono::nanoseconds elapsed,
                                  bool ok) {
  store_seconds_.With({operation}).Observe(std::chrono::duration<double>(elapsed).count());
  if (!ok) {
    store_errors_.With({operation}).Inc();
  }
}

void ServerTelemetry::OnRateLimitRefused(std::string_view limit) {
  rate_limit_refusals_.With({limit}).Inc();
}

void ServerTelemetry::OnAuditWriteFailed() { audit_failures_.Inc(); }

void ServerTelemetry::OnAuditFallback() { audit_fallbacks_.Inc(); }

void ServerTelemetry::OnGatewayCall(std::string_view mode, std::string_view status) {
  gateway_calls_.With({mode, status}).Inc();
}

void ServerTelemetry::WatchServer(const http::HttpServer& server) {
  registry_.AddCallback("coffer_http_active_connections", "Client connections open right now.",
                        "gauge",
                        [&server] { return static_cast<double>(server.active_connections()); });
  registry_.AddCallback(
      "coffer_http_connections_refused_total",
      "Connections closed as soon as accepted: over the per-address limit, or at the total limit "
      "with no idle connection to close instead.",
      "counter", [&server] { return static_cast<double>(server.refused_connections()); });
  registry_.AddCallback(
      "coffer_http_connections_evicted_total",
      "Idle connections closed to make room for a new one at the total connection limit.",
      "counter", [&server] { return static_cast<double>(server.evicted_connections()); });
}

void ServerTelemetry::WatchKeyProvider(const KeyProvider& provider) {
  if (watched_provider_ == &provider) return;
  watched_provider_ = &provider;
  registry_.AddCallback(
      "coffer_key_provider_failures_total",
      "Times the root key's provider (a PKCS#11 token) could not be reached: an operation or a "
      "check failed, or re-opening the session did.",
      "counter", [&provider] { return static_cast<double>(provider.failure_count()); });
}

void ServerTelemetry::WatchSqliteStore(const SqliteStore& store) {
  registry_.AddCallback("coffer_store_write_ops_total",
                        "Write operations run by the SQLite group-commit writer.", "counter",
                        [&store] { return static_cast<double>(store.Stats().write_ops); });
  registry_.AddCallback(
      "coffer_store_commits_total",
      "Transactions committed by the group-commit writer; write_ops / commits is the mean batch "
      "size.",
      "counter", [&store] { return static_cast<double>(store.Stats().commits); });
  registry_.AddCallback(
      "coffer_store_wal_syncs_total",
      "fsyncs of the write-ahead log: one per durable commit, plus one per sync interval while "
      "stand-alone audit events (of requests that changed nothing) wait for one.",
      "counter", [&store] { return static_cast<double>(store.Stats().syncs); });
  registry_.AddCallback(
      "coffer_store_wal_sync_failures_total",
      "Interval fsyncs of the write-ahead log that failed: audit events of requests that changed "
      "nothing, answered since the last good sync, may not survive a power loss. Until a sync "
      "succeeds every commit is fsynced (and fails like a write).",
      "counter", [&store] { return static_cast<double>(store.Stats().sync_failures); });
  registry_.AddCallback("coffer_store_largest_batch", "Most write operations in one commit.",
                        "gauge",
                        [&store] { return static_cast<double>(store.Stats().largest_batch); });
  registry_.AddCallback("coffer_store_pending_writes",
                        "Write operations queued for the writer right now.", "gauge",
                        [&store] { return static_cast<double>(store.Stats().pending_ops); });
}

}  // namespace coffer::server
