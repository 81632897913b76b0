// SealGate (server/seal_gate.h): the sealed routes, the shares held until the threshold, the
// root key combined and verified, the services built over it and dropped again on seal.
#include "server/seal_gate.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/ops_routes.h"
#include "http/problem_json.h"
#include "server/server_services.h"
#include "service/keyring_refresher.h"

namespace coffer::server {

// The root key the shares gave, held while unsealed (the keyring refresher opens new data keys
// with it); wiped on seal.
class SealGate::HeldKeyProvider final : public KeyProvider {
 public:
  void Set(SecretBuffer key) {
    MutexLock lock(mu_);
    key_ = std::move(key);
  }
  void Clear() {
    MutexLock lock(mu_);
    key_.Wipe();
    key_ = SecretBuffer();
  }
  StatusOr<SecretBuffer> LoadRootKey() override {
    MutexLock lock(mu_);
    if (key_.empty()) return Err(FailedPreconditionError("the server is sealed"));
    return key_.Clone();
  }
  std::string Describe() const override { return "the root key combined from unseal shares"; }

 private:
  Mutex mu_;
  SecretBuffer key_ COFFER_GUARDED_BY(mu_);
};

// The unsealed server: its keyring, services and routes. Destroyed when the last request using
// it ends after a seal; the services stop first, then the keys are wiped.
struct SealGate::Unsealed {
  std::unique_ptr<Keyring> keyring;
  std::unique_ptr<ServerServices> services;
  http::Router router;
  ~Unsealed() {
    if (services != nullptr) services->Stop();
    services.reset();
  }
};

namespace {

constexpr size_t kMaxRememberedAttempts = 1000;
constexpr std::string_view kSharesDoNotOpen = "the shares do not open this store";

}  // namespace

SealGate::SealGate(const SealGateInputs& in)
    : in_(in), provider_(std::make_unique<HeldKeyProvider>()) {
  control_.status = [this] { return CurrentStatus(); };
  control_.unseal = [this](std::string_view share, const RequestContext& ctx) {
    return AddShare(share, ctx);
  };
  control_.reset = [this] { return Reset(); };
  control_.seal = [this] { return Seal(); };
  api::RegisterUnsealRoutes(sealed_router_, control_, in_.proxies);
  api::RegisterOpsRoutes(
      sealed_router_,
      api::OpsRoutes{.ready = [] { return UnavailableError("the server is sealed"); },
                     .metrics = &in_.telemetry.registry()});
}

SealGate::~SealGate() { Stop(); }

void SealGate::RegisterRoutes(http::Router& router) {
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    auto dispatch = [this](const http::Request& r, const http::RouteParams&) {
      return Dispatch(r);
    };
    router.Add(method, "/{*path}", dispatch);
    router.Add(method, "/", dispatch);
  }
}

void SealGate::SetListeningUrl(std::string url) {
  MutexLock lock(mu_);
  listening_url_ = url;
  if (unsealed_ != nullptr) unsealed_->services->SetListeningUrl(std::move(url));
}

void SealGate::Stop() {
  std::shared_ptr<Unsealed> dropped;
  {
    MutexLock lock(mu_);
    dropped = std::move(unsealed_);
    given_.clear();
  }
  dropped.reset();  // the services stop here unless a request still holds them
  provider_->Clear();
}

http::Response SealGate::Dispatch(const http::Request& request) {
  std::shared_ptr<Unsealed> state;
  {
    MutexLock lock(mu_);
    state = unsealed_;
  }
  const http::Router& router = state != nullptr ? state->router : sealed_router_;
  http::RouteMatch match = router.Match(request.method, request.segments);
  switch (match.kind) {
    case http::RouteMatch::Kind::kNotFound:
      if (state == nullptr) return api::SealedProblem();
      return http::ProblemFromStatus(NotFoundError("no route for " + request.method.substr(0, 16)));
    case http::RouteMatch::Kind::kMethodNotAllowed: {
      http::Response r =
          http::Problem(405, "method-not-allowed", "Method not allowed",
                        "method " + request.method.substr(0, 16) + " is not allowed here");
      r.headers.emplace_back("Allow", match.allow);
      return r;
    }
    case http::RouteMatch::Kind::kFound:
      break;
  }
  // `state` keeps the services alive while their handler runs. What it leaves to run before
  // sending (an audit append) is waited for by ServerServices::Stop before they go.
  return (*match.handler)(request, match.params);
}

bool SealGate::sealed() {
  MutexLock lock(mu_);
  return unsealed_ == nullptr;
}

api::SealStatus SealGate::StatusLocked() const {
  return api::SealStatus{.sealed = unsealed_ == nullptr,
                         .threshold = in_.seal.threshold,
                         .shares = in_.seal.shares,
                         .progress = static_cast<int>(given_.size())};
}

api::SealStatus SealGate::CurrentStatus() {
  MutexLock lock(mu_);
  return StatusLocked();
}

api::SealStatus SealGate::Reset() {
  MutexLock lock(mu_);
  given_.clear();
  return StatusLocked();
}

bool SealGate::Admit(const std::string& client_ip) {
  const MonotonicTime now = in_.monotonic.Now();
  if (window_start_ == MonotonicTime::min() || now - window_start_ >= std::chrono::minutes(1) ||
      window_counts_.size() > 10000) {
    window_start_ = now;
    window_counts_.clear();
  }
  return ++window_counts_[client_ip] <= kUnsealAttemptsPerMinute;
}

void SealGate::Remember(const RequestContext& ctx, const Status& result) {
  if (attempts_.size() >= kMaxRememberedAttempts) {
    ++attempts_dropped_;
    return;
  }
  attempts_.push_back(Attempt{ctx.request_id, ctx.client_ip, result});
}

StatusOr<api::SealStatus> SealGate::AddShare(std::string_view text, const RequestContext& ctx) {
  MutexLock lock(mu_);
  if (unsealed_ != nullptr) return StatusLocked();  // nothing to do; the share is not looked at
  if (!Admit(ctx.client_ip)) {
    in_.telemetry.OnRateLimitRefused("unseal");
    Status refused(StatusCode::kResourceExhausted,
                   fmt::format("too many unseal attempts from this address; at most {} a minute",
                               kUnsealAttemptsPerMinute),
                   StatusPayload{.retry_after = std::chrono::seconds(60)});
    Remember(ctx, refused);
    return Err(refused);
  }
  auto parsed = ParseUnsealShare(text);
  if (!parsed.has_value()) {
    Remember(ctx, parsed.error());
    spdlog::warn("unseal: a malformed share was refused ({})", ctx.client_ip);
    return Err(parsed.error());
  }
  if (parsed->split_id != in_.seal.split_id) {
    Status other = InvalidArgumentError(
        "this share belongs to another store (another coffer init); progress is unchanged");
    Remember(ctx, other);
    spdlog::warn("unseal: a share of another store was refused ({})", ctx.client_ip);
    return Err(other);
  }
  for (const ShamirShare& given : given_) {
    if (given.x == parsed->share.x) {
      Status twice = InvalidArgumentError(
          fmt::format("share {} was already given; it counts once (progress {} of {})", given.x,
                      given_.size(), in_.seal.threshold));
      Remember(ctx, twice);
      return Err(twice);
    }
  }
  given_.push_back(std::move(parsed->share));
  if (given_.size() < static_cast<size_t>(in_.seal.threshold)) {
    Remember(ctx, OkStatus());
    spdlog::info("unseal: share accepted ({} of {})", given_.size(), in_.seal.threshold);
    return StatusLocked();
  }
  // The threshold is reached: combine, verify, serve. The shares are dropped whatever happens.
  auto root = ShamirCombine(given_);
  given_.clear();
  StatusOr<std::shared_ptr<Unsealed>> opened =
      root.has_value() ? Open(std::move(*root))
                       : StatusOr<std::shared_ptr<Unsealed>>(Err(root.error()));
  if (!opened.has_value()) {
    Remember(ctx, opened.error());
    spdlog::warn("unseal failed, progress reset: {}", opened.error().message());
    return Err(opened.error());
  }
  unsealed_ = std::move(*opened);
  Remember(ctx, OkStatus());
  // The attempts while sealed go into the audit log now that it can be written.
  AuditLog& audit = unsealed_->services->audit_log();
  for (const Attempt& a : attempts_) {
    if (Status s = audit.RecordAnonymous(a.request_id, a.client_ip, "sys.unseal", a.result);
        !s.ok()) {
      spdlog::error("cannot audit an unseal attempt: {}", s.message());
    }
  }
  if (attempts_dropped_ > 0) {
    spdlog::warn("{} more unseal attempts were made while sealed (not audited one by one)",
                 attempts_dropped_);
  }
  attempts_.clear();
  attempts_dropped_ = 0;
  spdlog::info("unsealed: the root key opens the keyring; serving");
  return StatusLocked();
}

StatusOr<std::shared_ptr<SealGate::Unsealed>> SealGate::Open(SecretBuffer root_key) {
  ASSIGN_OR_RETURN(std::vector<WrappedKey> keys, in_.raw_store.LoadKeys());
  if (keys.empty()) return Err(FailedPreconditionError("the store is not initialized"));
  std::unique_ptr<RootKey> root =
      NewBytesRootKey(root_key.Clone(), in_.random, "the root key combined from unseal shares");
  if (!Keyring::Verify(keys.front(), *root).ok()) {
    // A wrong share (of this store, well formed) gives a wrong key: nothing is changed.
    return Err(InvalidArgumentError(std::string(kSharesDoNotOpen) +
                                    "; progress is reset: give the shares again"));
  }
  ASSIGN_OR_RETURN(const bool added,
                   EnsureTokenSigningKey(in_.raw_store, *root, in_.random, in_.clock.Now(), keys));
  if (added) spdlog::info("added an Ed25519 token signing key to the keyring");
  ASSIGN_OR_RETURN(std::unique_ptr<Keyring> keyring, Keyring::Unwrap(keys, *root, in_.random));
  root.reset();
  provider_->Set(std::move(root_key));
  auto state = std::make_shared<Unsealed>();
  state->keyring = std::move(keyring);
  state->services =
      std::make_unique<ServerServices>(ServiceInputs{.config = in_.config,
                                                     .raw_store = in_.raw_store,
                                                     .observed_store = in_.observed_store,
                                                     .clock = in_.clock,
                                                     .random = in_.random,
                                                     .provider = *provider_,
                                                     .keyring = *state->keyring,
                                                     .telemetry = in_.telemetry});
  api::RegisterUnsealRoutes(state->router, control_, in_.proxies);
  state->services->RegisterSealRoute(state->router, in_.proxies, control_);
  state->services->RegisterRoutes(state->router, in_.proxies);
  if (!listening_url_.empty()) state->services->SetListeningUrl(listening_url_);
  return state;
}

Status SealGate::Seal() {
  std::shared_ptr<Unsealed> dropped;
  {
    MutexLock lock(mu_);
    dropped = std::move(unsealed_);
    given_.clear();
  }
  provider_->Clear();
  spdlog::info("sealed: the keys are dropped from memory; unseal with the shares to serve again");
  // The services stop when the last request using them (this one included) ends.
  return OkStatus();
}

}  // namespace coffer::server
