// ServerServices: the services of `coffer server` in the order they depend on each other, the
// alerts they raise in the log, and their routes.
#include "server/server_services.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/ops_routes.h"
#include "api/routes.h"
#include "api/ui_routes.h"
#include "common/ids.h"
#include "common/monotonic_clock.h"
#include "common/time_format.h"
#include "server/embedded_ui.h"
#include "server/json_log.h"

namespace coffer::server {

namespace {

// While a storage fault keeps audit events out of the store, those of requests that changed
// nothing go to the log (journald under systemd) as ALERT lines, so reads go on, audited.
bool LogAuditFallback(ServerTelemetry& telemetry, const AuditEvent& e) {
  telemetry.OnAuditFallback();
  LogAlert("audit_event_not_in_store",
           fmt::format("\"at\":{},\"request_id\":{},\"actor_kind\":{},\"actor_id\":{},"
                       "\"action\":{},\"vault_id\":{},\"path\":{},\"version\":{},"
                       "\"client_ip\":{},\"outcome\":{},\"status\":{},\"http_status\":{},"
                       "\"count\":{}",
                       JsonString(FormatRfc3339(e.at)), JsonString(e.request_id),
                       JsonString(e.actor_kind), JsonString(e.actor_id), JsonString(e.action),
                       JsonString(e.vault_id), JsonString(e.path), e.version,
                       JsonString(e.client_ip), JsonString(e.outcome), JsonString(e.status),
                       e.http_status, e.count > 0 ? e.count : 1));
  return true;
}

void LogIntegrityFailure(const IntegrityFailure& f) {
  LogAlert("ciphertext_integrity_failure",
           fmt::format("\"vault_id\":{},\"secret_id\":{},\"path\":{},\"version\":{},"
                       "\"key_id\":{},\"key_held\":{},\"request_id\":{}",
                       JsonString(f.vault_id), JsonString(f.secret_id), JsonString(f.path),
                       f.version, f.key_id.has_value() ? std::to_string(*f.key_id) : "null",
                       f.key_held, JsonString(f.request_id)));
}

AuthService::Options AuthOptions(const ServerConfig& config, ServerTelemetry& telemetry) {
  AuthService::Options options;
  options.token_ttl = std::chrono::seconds(config.token_ttl_seconds);
  options.session_ttl = std::chrono::seconds(config.ui_session_ttl_seconds);
  options.secure_session_cookie = !config.tls_cert.empty();
  options.failure_limit.burst = config.auth_failure_burst;
  options.failure_limit.per_minute = config.auth_failures_per_minute;
  options.on_limited = [&telemetry] { telemetry.OnRateLimitRefused("auth-failures"); };
  return options;
}

SecretServiceHooks SecretHooks(KeyringRefresher& refresher, const ServerConfig& config) {
  SecretServiceHooks hooks;
  hooks.min_rotation_interval = std::chrono::seconds(config.rotation_min_interval_seconds);
  hooks.reload_keyring = [r = &refresher] { return r->RefreshSoon(); };
  hooks.key_provider_failure = [r = &refresher] { return r->ProviderFailure(); };
  hooks.on_integrity_failure = LogIntegrityFailure;
  return hooks;
}

gateway::EgressGuard EgressGuardOf(const ServerConfig& config) {
  std::vector<gateway::CidrBlock> allow;
  for (const std::string& text : config.egress_allow) {
    // Checked by CheckServerConfig before the server starts.
    auto blocks = gateway::EgressGuard::ParseAllowList(text);
    if (blocks.has_value()) allow.insert(allow.end(), blocks->begin(), blocks->end());
  }
  return gateway::EgressGuard(std::move(allow));
}

// Each attempt in the log: which delivery, and why it failed (never a body or a secret).
void LogWebhookAttempt(const WebhookDelivery& d, const WebhookAttempt& a) {
  if (a.state == WebhookDeliveryState::kDelivered) {
    spdlog::info("webhook delivery {} ({}) to webhook {} delivered: HTTP {}", d.id, d.event_type,
                 d.webhook_id, a.status_code);
  } else {
    spdlog::warn("webhook delivery {} ({}) to webhook {} failed (attempt {}{}): {}", d.id,
                 d.event_type, d.webhook_id, d.attempts + 1,
                 a.state == WebhookDeliveryState::kFailed ? ", the last" : "", a.error);
  }
}

}  // namespace

ServerServices::ServerServices(const ServiceInputs& in)
    : in_(in),
      cache_(in.observed_store),
      authorizer_(cache_, in.clock),
      audit_log_(in.observed_store, in.clock),
      usage_(std::make_unique<UsageRecorder>(
          in.observed_store, DefaultMonotonicClock(),
          std::chrono::milliseconds(in.config.usage_flush_interval_ms))),
      deps_{in.observed_store,       in.clock,    cache_, authorizer_, audit_log_, in.random,
            DefaultMonotonicClock(), usage_.get()},
      auth_(deps_, in.keyring, AuthOptions(in.config, in.telemetry)),
      vaults_(deps_),
      // Another process may rotate or retire data keys (coffer keys): re-read them now and
      // then, and at once when a read meets a key id this keyring does not hold.
      refresher_(std::make_unique<KeyringRefresher>(in.raw_store, in.provider, in.keyring)),
      secrets_(deps_, in.keyring, SecretHooks(*refresher_, in.config)),
      users_(deps_, in.keyring),
      agents_(deps_, auth_, in.keyring),
      policies_(deps_),
      audit_(deps_),
      shares_(deps_, in.keyring, auth_,
              ShareService::Options{.public_base_url = [this] { return PublicBaseUrl(); }}),
      webhooks_(deps_, in.keyring,
                WebhookServiceOptions{.allow_http = in.config.webhook_allow_http}) {
  in.telemetry.WatchKeyProvider(in.provider);
  audit_log_.SetFallback(
      [&telemetry = in.telemetry](const AuditEvent& e) { return LogAuditFallback(telemetry, e); });
  // Refusals past a client's budget are counted, not audited one by one: their summaries
  // (auth.failed.summary, one per address and minute) are appended from here.
  auth_.StartFailureSummaries(std::chrono::seconds(1), [](const Status& s) {
    spdlog::error("cannot append the summary of refused authentications: {}", s.message());
  });
  RotationSchedulerOptions scheduling;
  scheduling.poll_interval = std::chrono::milliseconds(in.config.scheduler_interval_ms);
  scheduling.expiry_warning = std::chrono::seconds(in.config.expiry_warning_seconds);
  scheduler_ = std::make_unique<RotationScheduler>(deps_, in.keyring, std::move(scheduling));
  scheduler_->Start([](const Status& s) { spdlog::error("rotation scheduler: {}", s.message()); });
  gateway::HttpClientOptions http_options;
  http_options.allow_http = in.config.webhook_allow_http;
  http_ = std::make_unique<gateway::CurlHttpClient>(EgressGuardOf(in.config), http_options);
  WebhookDispatcherOptions dispatch;
  dispatch.first_retry = std::chrono::milliseconds(in.config.webhook_first_retry_ms);
  dispatch.sender_id = NewUuid(in.random);
  dispatcher_ = std::make_unique<WebhookDispatcher>(in.observed_store, in.clock,
                                                    DefaultMonotonicClock(), in.keyring, *http_,
                                                    in.random, dispatch, LogWebhookAttempt);
  dispatcher_->Start([](const Status& s) { spdlog::error("webhook dispatch: {}", s.message()); });
  upstream_ = gateway::NewCurlUpstreamClient(EgressGuardOf(in.config));
  bindings_ =
      std::make_unique<BindingService>(deps_, secrets_, EgressGuardOf(in.config), upstream_.get());
  gateway_ = std::make_unique<GatewayService>(
      deps_, secrets_, *upstream_,
      GatewayOptions{.agent_rpm = in.config.gateway_agent_rpm,
                     .agent_daily_budget = in.config.gateway_agent_daily_budget,
                     .on_record = [&telemetry = in.telemetry](const ExecutionRecord& r) {
                       telemetry.OnGatewayCall(r.mode, r.status);
                     }});
  gateway_->Start();
  usage_->Start([](const Status& s) {
    spdlog::error("cannot add usage counts to the store (kept for the next try): {}", s.message());
  });
  grace_sweeper_ =
      std::make_unique<KeyGraceSweeper>(in.observed_store, in.clock, DefaultMonotonicClock());
  grace_sweeper_->Start(kKeyGraceSweepInterval, [](const Status& s) {
    spdlog::error("cannot audit the end of a key's grace window (retried): {}", s.message());
  });
  refresher_->Start(kKeyringRefreshInterval, [](const StatusOr<bool>& r) {
    if (r.has_value()) {
      spdlog::info("data keys reloaded from the store");
    } else {
      spdlog::error("cannot reload the data keys: {}", r.error().message());
    }
  });
}

void ServerServices::RegisterRoutes(http::Router& router, const http::TrustedProxies& proxies) {
  api::RegisterRoutes(
      router, api::ApiServices{auth_, audit_log_, proxies, vaults_, secrets_, users_, agents_,
                               policies_, audit_, shares_, webhooks_, *bindings_, *gateway_});
  api::RegisterOpsRoutes(router, api::OpsRoutes{.ready = [this] { return Ready(); },
                                                .metrics = &in_.telemetry.registry()});
  api::RegisterUiRoutes(router, EmbeddedUiAssets(), {.tls = !in_.config.tls_cert.empty()});
}

void ServerServices::SetListeningUrl(std::string url) {
  MutexLock lock(url_mu_);
  listening_url_ = std::move(url);
}

std::string ServerServices::PublicBaseUrl() const {
  std::string_view configured = in_.config.public_url;
  while (configured.ends_with('/')) configured.remove_suffix(1);
  if (!configured.empty()) return std::string(configured);
  MutexLock lock(url_mu_);
  return listening_url_;
}

Status ServerServices::Ready() const {
  auto probe = in_.raw_store.GetUser("readiness-probe");
  if (!probe.has_value() && probe.error().code() != StatusCode::kNotFound) {
    return UnavailableError("the store does not answer reads");
  }
  if (in_.keyring.active_data_key_id() == 0) {
    return UnavailableError("the keyring has no active data key");
  }
  if (Status provider = refresher_->ProviderFailure(); !provider.ok()) {
    return provider;  // names the token and why (never a PIN)
  }
  return OkStatus();
}

void ServerServices::Stop() {
  scheduler_.reset();  // no scheduled write after this point
  // The counts still pending go into the audit log.
  if (Status s = auth_.StopFailureSummaries(); !s.ok()) {
    spdlog::error("cannot append the summary of refused authentications: {}", s.message());
  }
  dispatcher_->Stop();  // it reads and writes the store
  // Calls still in flight end (cancelled) and their records are written.
  upstream_.reset();
  gateway_->Stop();
  audit_log_.WaitForBackground();             // every event appended before the store closes
  if (Status s = usage_->Flush(); !s.ok()) {  // the counts since the last flush
    spdlog::error("cannot add usage counts to the store at shutdown: {}", s.message());
  }
  refresher_.reset();      // its thread reads the store
  grace_sweeper_.reset();  // so does this one's
}

}  // namespace coffer::server
