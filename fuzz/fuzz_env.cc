// FuzzEnv: wiring of the in-process service stack (as `coffer server` wires it, minus the
// network) and the response checks shared by the request-level fuzz targets.
#include "fuzz_env.h"

#include <unistd.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "api/routes.h"
#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/random.h"
#include "common/secret_buffer.h"
#include "crypto/keyring.h"
#include "http/client_ip.h"
#include "http/problem_json.h"
#include "http/request_target.h"
#include "http/router.h"
#include "service/access_cache.h"
#include "service/agent_service.h"
#include "service/audit_log.h"
#include "service/audit_service.h"
#include "service/auth_service.h"
#include "service/authorizer.h"
#include "service/binding_service.h"
#include "service/gateway_service.h"
#include "service/policy_service.h"
#include "service/secret_service.h"
#include "service/user_service.h"
#include "service/vault_service.h"
#include "service/webhook_service.h"
#include "store/sqlite/sqlite_store.h"

namespace coffer::fuzz {

namespace {

constexpr size_t kRequestsPerEnv = 2000;
// 2026-01-01T00:00:00Z; the clock moves one second per request so rate-limit windows and
// expiry times are crossed during a run.
constexpr UnixMicros kStart = 1'767'225'600LL * kMicrosPerSecond;
constexpr std::string_view kCanaryPath = "db/password";
constexpr std::string_view kCanaryValue = "CANARY-7f3c9a-fuzz-value-never-echoed";

std::filesystem::path TempRoot() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) {
    return "/dev/shm";  // fsync is free there, so a fuzz iteration is not a disk write
  }
  return std::filesystem::temp_directory_path();
}

template <typename T>
T ValueOrDie(StatusOr<T> result, const char* what) {
  if (!result.has_value()) {
    std::fprintf(stderr, "fuzz env: %s: %s\n", what, result.error().ToString().c_str());
    std::abort();
  }
  return std::move(*result);
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos)) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// The gateway's upstream: a fuzzer never reaches out, every call ends unreachable.
class NoUpstream : public gateway::UpstreamClient {
 public:
  std::shared_ptr<gateway::UpstreamCall> Start(
      gateway::UpstreamRequest, std::shared_ptr<gateway::UpstreamSink> sink) override {
    sink->OnDone(UnavailableError("no outbound calls in the fuzzer"));
    return nullptr;
  }
};

}  // namespace

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

struct FuzzEnv::State {
  std::filesystem::path dir;
  FakeClock clock{kStart};
  FakeMonotonicClock monotonic_clock;
  std::unique_ptr<Random> random = NewDeterministicRandom(8);
  SecretBuffer root_key{32};
  std::unique_ptr<Store> store;
  std::unique_ptr<Keyring> keyring;
  std::unique_ptr<AccessCache> cache;
  std::unique_ptr<Authorizer> authorizer;
  std::unique_ptr<AuditLog> audit_log;
  std::unique_ptr<ServiceDeps> deps;
  std::unique_ptr<AuthService> auth;
  std::unique_ptr<VaultService> vaults;
  std::unique_ptr<SecretService> secrets;
  std::unique_ptr<UserService> users;
  std::unique_ptr<AgentService> agents;
  std::unique_ptr<PolicyService> policies;
  std::unique_ptr<AuditService> audit;
  std::unique_ptr<ShareService> shares;
  std::unique_ptr<WebhookService> webhooks;
  std::unique_ptr<gateway::UpstreamClient> upstream;
  std::unique_ptr<BindingService> bindings;
  std::unique_ptr<GatewayService> gateway;
  http::TrustedProxies proxies = ValueOrDie(http::TrustedProxies::Parse("10.0.0.0/8"), "proxies");
  http::Router router;

  SecretBuffer admin_key;
  std::string admin_id;
  SecretBuffer agent_key;
  SecretBuffer rotation_secret;
  std::string agent_id;
  std::string vault_id;
  std::string last_route;
  // Which of (admin key, agent key, rotation secret, canary value) some request of this
  // environment has sent as data (not as its credential): the server may have stored it (as a
  // description, an audited list prefix, …) and may legitimately show it again.
  std::array<bool, 4> sent_as_data{};

  ~State() {
    router = http::Router();
    gateway.reset();
    bindings.reset();
    upstream.reset();
    webhooks.reset();
    shares.reset();
    audit.reset();
    policies.reset();
    agents.reset();
    users.reset();
    secrets.reset();
    vaults.reset();
    auth.reset();
    deps.reset();
    audit_log.reset();
    authorizer.reset();
    cache.reset();
    keyring.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

FuzzEnv& FuzzEnv::Get() {
  static FuzzEnv* env = new FuzzEnv();  // never destroyed: libFuzzer exits without unwinding
  if (env->requests_ >= kRequestsPerEnv) {
    env->Build();
  }
  return *env;
}

FuzzEnv::FuzzEnv() { Build(); }

FuzzEnv::~FuzzEnv() = default;

void FuzzEnv::Build() {
  state_.reset();
  requests_ = 0;
  auto s = std::make_unique<State>();
  s->dir = TempRoot() / ("coffer-fuzz-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::remove_all(s->dir, ec);
  std::filesystem::create_directories(s->dir);
  s->store = ValueOrDie(OpenSqliteStore(SqliteStoreOptions{.path = (s->dir / "db").string(),
                                                           .reader_connections = 2,
                                                           .clock = &s->monotonic_clock,
                                                           .random = s->random.get()}),
                        "open store");
  Check(s->random->Fill({s->root_key.data(), s->root_key.size()}).ok(), "root key");
  BootstrapResult boot =
      ValueOrDie(InitializeStore(*s->store, s->root_key, *s->random, s->clock), "init");
  s->admin_key = std::move(boot.api_key);
  s->admin_id = boot.admin.id;
  s->keyring = ValueOrDie(
      Keyring::Unwrap(ValueOrDie(s->store->LoadKeys(), "load keys"), s->root_key, *s->random),
      "unwrap");
  s->cache = std::make_unique<AccessCache>(*s->store);
  s->authorizer = std::make_unique<Authorizer>(*s->cache, s->clock);
  s->audit_log = std::make_unique<AuditLog>(*s->store, s->clock);
  s->deps =
      std::make_unique<ServiceDeps>(ServiceDeps{*s->store, s->clock, *s->cache, *s->authorizer,
                                                *s->audit_log, *s->random, s->monotonic_clock});
  // Every request comes from one address and some present a bad key: a budget of refused
  // credentials no run can spend, so valid keys keep reaching the handlers.
  AuthService::Options auth_options;
  auth_options.token_ttl = std::chrono::seconds(300);
  auth_options.failure_limit.burst = int64_t{1} << 40;
  auth_options.failure_limit.per_minute = int64_t{1} << 40;
  s->auth = std::make_unique<AuthService>(*s->deps, *s->keyring, std::move(auth_options));
  s->vaults = std::make_unique<VaultService>(*s->deps);
  s->secrets = std::make_unique<SecretService>(*s->deps, *s->keyring);
  s->users = std::make_unique<UserService>(*s->deps, *s->keyring);
  s->agents = std::make_unique<AgentService>(*s->deps, *s->auth, *s->keyring);
  s->policies = std::make_unique<PolicyService>(*s->deps);
  s->audit = std::make_unique<AuditService>(*s->deps);
  s->shares = std::make_unique<ShareService>(
      *s->deps, *s->keyring, *s->auth,
      ShareService::Options{.public_base_url = [] { return std::string("http://127.0.0.1"); }});
  s->webhooks = std::make_unique<WebhookService>(*s->deps, *s->keyring, WebhookServiceOptions{});
  s->upstream = std::make_unique<NoUpstream>();
  s->bindings = std::make_unique<BindingService>(*s->deps, *s->secrets, gateway::EgressGuard(),
                                                 s->upstream.get());
  s->gateway =
      std::make_unique<GatewayService>(*s->deps, *s->secrets, *s->upstream, GatewayOptions{});
  api::RegisterRoutes(s->router,
                      api::ApiServices{*s->auth, *s->audit_log, s->proxies, *s->vaults, *s->secrets,
                                       *s->users, *s->agents, *s->policies, *s->audit, *s->shares,
                                       *s->webhooks, *s->bindings, *s->gateway});

  // Seeded objects: a vault with the canary secret, and an agent that may read under db/.
  const Principal admin{PrincipalKind::kUser, s->admin_id, "admin", true, ""};
  const RequestContext ctx{admin, "fuzz-seed", "127.0.0.1"};
  s->vault_id = ValueOrDie(s->vaults->Create(ctx, {"fuzz", "seeded"}), "vault").id;
  PutSecretRequest put;
  put.type = "password";
  put.value = SecretBuffer(kCanaryValue);
  ValueOrDie(s->secrets->Put(ctx, s->vault_id, kCanaryPath, std::move(put)), "secret");
  AgentWithCredentials agent =
      ValueOrDie(s->agents->Create(ctx, {"fuzz-agent", "seeded"}), "agent");
  s->agent_id = agent.agent.id;
  s->agent_key = std::move(agent.api_key);
  s->rotation_secret = std::move(agent.rotation_secret);
  ValueOrDie(s->policies->Create(ctx, s->vault_id,
                                 PolicyGrant("agent", s->agent_id, "db/**", {"read", "list"})),
             "policy");
  state_ = std::move(s);
}

void FuzzEnv::Substitute(std::string& text) const {
  if (text.find('@') == std::string::npos) {
    return;
  }
  ReplaceAll(text, kAdminKey, state_->admin_key.view());
  ReplaceAll(text, kAgentKey, state_->agent_key.view());
  ReplaceAll(text, kRotationSecret, state_->rotation_secret.view());
  ReplaceAll(text, kAdminId, state_->admin_id);
  ReplaceAll(text, kAgentId, state_->agent_id);
  ReplaceAll(text, kVaultId, state_->vault_id);
}

http::Response FuzzEnv::Handle(http::Request& request) {
  ++requests_;
  state_->clock.Advance(kMicrosPerSecond);
  state_->last_route.clear();
  if (request.request_id.empty()) {
    request.request_id = "fuzz";
  }
  if (request.peer_ip.empty()) {
    request.peer_ip = "127.0.0.1";
  }
  // A value sent in the target, the body or a header other than Authorization is data the
  // server may store and show again; only values never sent so must never come back.
  const std::array<std::string_view, 4> values = {state_->admin_key.view(),
                                                  state_->agent_key.view(),
                                                  state_->rotation_secret.view(), kCanaryValue};
  for (size_t i = 0; i < values.size(); ++i) {
    bool sent = request.target.find(values[i]) != std::string::npos ||
                request.body.find(values[i]) != std::string::npos;
    for (const auto& [name, text] : request.headers) {
      sent = sent || (name != "authorization" && text.find(values[i]) != std::string::npos);
    }
    state_->sent_as_data[i] = state_->sent_as_data[i] || sent;
  }
  if (auto bad_target = http::ParseRequestTarget(request.target, request)) {
    return std::move(*bad_target);
  }
  // As BeastHttpServer::Dispatch does.
  http::RouteMatch match = state_->router.Match(request.method, request.segments);
  switch (match.kind) {
    case http::RouteMatch::Kind::kNotFound:
      return http::ProblemFromStatus(NotFoundError("no route"));
    case http::RouteMatch::Kind::kMethodNotAllowed:
      Check(!match.allow.empty(), "405 without an Allow list");
      return http::Problem(405, "method-not-allowed", "Method not allowed", "not allowed");
    case http::RouteMatch::Kind::kFound:
      break;
  }
  Check(match.handler != nullptr, "route found without a handler");
  state_->last_route = request.method + " " + match.route_template;
  try {
    return (*match.handler)(request, match.params);
  } catch (...) {
    Check(false, "a handler threw");
  }
  return {};
}

void FuzzEnv::CheckResponse(const http::Request& request, const http::Response& response) const {
  Check(response.status >= 200 && response.status <= 599, "status out of range");
  Check(response.status != 500, "500 Internal Server Error");
  const std::string_view body = response.body;
  const std::array<std::string_view, 4> values = {state_->admin_key.view(),
                                                  state_->agent_key.view(),
                                                  state_->rotation_secret.view(), kCanaryValue};
  const std::array<const char*, 3> leaks = {"a response holds the admin API key",
                                            "a response holds the agent API key",
                                            "a response holds the agent's rotation secret"};
  for (size_t i = 0; i < leaks.size(); ++i) {
    if (!state_->sent_as_data[i]) {
      Check(body.find(values[i]) == std::string_view::npos, leaks[i]);
    }
  }
  if (!state_->sent_as_data[3] && body.find(kCanaryValue) != std::string_view::npos) {
    const std::string& route = state_->last_route;
    Check(response.status == 200 &&
              (route == "GET /v1/vaults/{vault_id}/secrets/{*path}" ||
               route == "GET /v1/vaults/{vault_id}/secret-version/{*path}/{version}"),
          "the canary value appears outside a secret read");
    Check(response.sensitive, "a secret value in a response not marked sensitive");
  }
  if (response.status >= 400) {
    Check(response.content_type == "application/problem+json", "error not problem+json");
    boost::system::error_code ec;
    boost::json::value problem = boost::json::parse(body, ec);
    Check(!ec && problem.is_object(), "problem body is not a JSON object");
    const auto& o = problem.get_object();
    for (const char* field : {"type", "title", "detail"}) {
      Check(o.contains(field) && o.at(field).is_string(), "problem misses type/title/detail");
    }
    Check(o.contains("status") && o.at("status").is_int64() &&
              o.at("status").get_int64() == response.status,
          "problem status differs from the HTTP status");
  } else if (response.status != 204 && response.content_type == "application/json") {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(body, ec);
    Check(!ec, "a success body is not valid JSON");
  }
}

std::vector<std::pair<std::string, std::string>> FuzzEnv::Routes() const {
  return state_->router.Routes();
}

}  // namespace coffer::fuzz
