// SealGate: a server whose root key is split into unseal shares starts sealed. Until enough
// shares are given (POST /v1/sys/unseal) it answers only health, readiness, metrics, the seal
// status and unseal; every other route gets 503 urn:coffer:problem:sealed. With k valid shares
// it combines the root key, verifies it against the store's keyring, builds the services and
// serves; POST /v1/sys/seal (an admin) drops them and the keys again.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/seal_routes.h"
#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/random.h"
#include "crypto/key_provider.h"
#include "crypto/shamir.h"
#include "http/client_ip.h"
#include "http/router.h"
#include "server/config.h"
#include "server/seal_config.h"
#include "server/server_telemetry.h"
#include "store/store.h"

namespace coffer::server {

// Unseal attempts one client address may make per minute (each share given counts).
inline constexpr int kUnsealAttemptsPerMinute = 30;

// What the gate builds the services over; everything named outlives it.
struct SealGateInputs {
  const ServerConfig& config;
  SealConfig seal;
  Store& raw_store;
  Store& observed_store;
  const Clock& clock;
  Random& random;
  ServerTelemetry& telemetry;
  const http::TrustedProxies& proxies;
  const MonotonicClock& monotonic;  // the unseal rate limit's
};

class SealGate {
 public:
  explicit SealGate(const SealGateInputs& in);
  ~SealGate();
  SealGate(const SealGate&) = delete;
  SealGate& operator=(const SealGate&) = delete;

  // Adds a catch-all route per method to `router`: each request is answered by the sealed routes
  // or, once unsealed, by the services' routes. The gate outlives the router.
  void RegisterRoutes(http::Router& router);
  // The listening URL, handed to the services each time they are built. Thread-safe.
  void SetListeningUrl(std::string url);
  // Seals (stops the services, wipes the keys). Call once the HTTP server has stopped.
  void Stop();

  // The control the seal routes call (public for tests). Thread-safe.
  api::SealStatus CurrentStatus();
  StatusOr<api::SealStatus> AddShare(std::string_view text, const RequestContext& ctx);
  api::SealStatus Reset();
  Status Seal();
  bool sealed();

 private:
  struct Unsealed;
  class HeldKeyProvider;
  struct Attempt {
    std::string request_id;
    std::string client_ip;
    Status result;
  };

  http::Response Dispatch(const http::Request& request);
  // Builds the services over the root key the shares gave, after checking it opens the keyring.
  StatusOr<std::shared_ptr<Unsealed>> Open(SecretBuffer root_key) COFFER_REQUIRES(mu_);
  api::SealStatus StatusLocked() const COFFER_REQUIRES(mu_);
  // False when `client_ip` has used its attempts of this minute.
  bool Admit(const std::string& client_ip) COFFER_REQUIRES(mu_);
  // Keeps the attempt for the audit log, written once unsealed (bounded).
  void Remember(const RequestContext& ctx, const Status& result) COFFER_REQUIRES(mu_);

  SealGateInputs in_;
  std::unique_ptr<HeldKeyProvider> provider_;  // lives as long as the gate (telemetry reads it)
  api::SealControl control_;
  http::Router sealed_router_;

  Mutex mu_;
  std::vector<ShamirShare> given_ COFFER_GUARDED_BY(mu_);
  std::shared_ptr<Unsealed> unsealed_ COFFER_GUARDED_BY(mu_);
  std::vector<Attempt> attempts_ COFFER_GUARDED_BY(mu_);
  size_t attempts_dropped_ COFFER_GUARDED_BY(mu_) = 0;
  std::string listening_url_ COFFER_GUARDED_BY(mu_);
  MonotonicTime window_start_ COFFER_GUARDED_BY(mu_) = MonotonicTime::min();
  std::map<std::string, int, std::less<>> window_counts_ COFFER_GUARDED_BY(mu_);
};

}  // namespace coffer::server
