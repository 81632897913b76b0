// ServerTelemetry: the Prometheus metrics of a running `coffer server` (requests, latencies,
// store calls, group commits, connections, rate-limit refusals, audit failures) and the request
// observer that feeds them and writes the access log.
#pragma once

#include <chrono>
#include <string_view>

#include "crypto/key_provider.h"
#include "http/metrics.h"
#include "http/server.h"
#include "store/observed_store.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer::server {

class ServerTelemetry final : public StoreObserver {
 public:
  ServerTelemetry();

  // Records a finished request in the metrics and writes its access-log line. Thread-safe.
  void OnRequest(const http::RequestLogEntry& entry);

  // StoreObserver. Thread-safe.
  void OnStoreCall(std::string_view operation, std::chrono::nanoseconds elapsed, bool ok) override;
  void OnRateLimitRefused(std::string_view limit) override;
  void OnAuditWriteFailed() override;
  // An audit event the store refused (storage fault) went to the log instead. Thread-safe.
  void OnAuditFallback();
  // A call through an agent's binding ended (or was refused), by mode and status. Thread-safe.
  void OnGatewayCall(std::string_view mode, std::string_view status);

  // Adds gauges read from `server` (active connections). REQUIRES: `server` outlives every
  // Render() of the registry, i.e. the server is the last thing serving /metrics.
  void WatchServer(const http::HttpServer& server);
  // Adds the group-commit writer's counters. Same lifetime requirement.
  void WatchSqliteStore(const SqliteStore& store);
  // Adds the count of times the root key's provider (a PKCS#11 token) could not be reached.
  // Same lifetime requirement. Once per provider.
  void WatchKeyProvider(const KeyProvider& provider);

  const http::MetricsRegistry& registry() const { return registry_; }

 private:
  http::MetricsRegistry registry_;
  http::CounterFamily& requests_;
  http::HistogramFamily& request_seconds_;
  http::HistogramFamily& store_seconds_;
  http::CounterFamily& store_errors_;
  http::CounterFamily& rate_limit_refusals_;
  http::Counter& audit_failures_;
  http::Counter& audit_fallbacks_;
  http::CounterFamily& gateway_calls_;
  // The provider WatchKeyProvider watches: a second call for it (the services built again after
  // an unseal) adds nothing.
  const KeyProvider* watched_provider_ = nullptr;
};

}  // namespace coffer::server
