// WebhookDispatcher: from audit events to queued deliveries (who gets which event), and from a
// claimed delivery to a signed POST and its recorded outcome.
#include "service/webhook_dispatcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "service/webhook_events.h"
#include "service/webhook_payload.h"
#include "service/webhook_retry.h"
#include "service/webhook_service.h"
#include "service/webhook_signature.h"

namespace coffer {

namespace {

bool Subscribed(const WebhookEndpoint& w, std::string_view type) {
  return std::find(w.events.begin(), w.events.end(), type) != w.events.end();
}

// The agent an agent.* audit event is about: the actor of a self-rotation, else the event's
// path (agent.rotate_key names the rotated agent there: its id, or with a grace window
// "agents/{id}/api-keys?…", service/key_grace.h).
std::string AgentOf(const AuditEvent& event) {
  if (event.actor_kind == "agent" && event.action == "agent.self_rotate_key") return event.actor_id;
  std::string_view path = event.path;
  if (path.starts_with("agents/")) {
    path.remove_prefix(std::string_view("agents/").size());
    return std::string(path.substr(0, path.find('/')));
  }
  return event.path;
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(Store& store, const Clock& clock,
                                     const MonotonicClock& monotonic, const Keyring& keyring,
                                     gateway::HttpClient& http, Random& random,
                                     WebhookDispatcherOptions options,
                                     WebhookAttemptObserver observer)
    : store_(store),
      clock_(clock),
      monotonic_(monotonic),
      keyring_(keyring),
      http_(http),
      random_(random),
      options_(std::move(options)),
      observer_(std::move(observer)) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

StatusOr<size_t> WebhookDispatcher::DispatchOnce() {
  ASSIGN_OR_RETURN(const int64_t cursor, store_.GetWebhookCursor());
  AuditQuery query;
  query.after_seq = cursor;
  query.limit = options_.dispatch_batch;
  ASSIGN_OR_RETURN(std::vector<AuditEvent> events, store_.ListAudit(query));
  if (events.empty()) return size_t{0};
  // Read after the events: an endpoint created since has a start_after_seq past all of them.
  ASSIGN_OR_RETURN(std::vector<WebhookEndpoint> endpoints, store_.ListWebhooks(std::nullopt));
  std::map<std::string, std::string> vault_owner;  // of endpoints' vaults, looked up once
  std::map<std::string, std::string> agent_owner;
  const UnixMicros now = clock_.Now();
  std::vector<WebhookDelivery> deliveries;
  for (const AuditEvent& event : events) {
    for (std::string_view type : WebhookEventsOf(event)) {
      const bool agent_event = type == "agent.key_rotated";
      std::string agent_id;
      if (agent_event) {
        agent_id = AgentOf(event);
        if (agent_id.empty()) continue;
        if (!agent_owner.contains(agent_id)) {
          auto agent = store_.GetAgent(agent_id);
          if (!agent.has_value() && agent.error().code() != StatusCode::kNotFound) {
            return Err(agent.error());
          }
          agent_owner[agent_id] = agent.has_value() ? agent->owner_id : "";
        }
        if (agent_owner[agent_id].empty()) continue;
      }
      for (const WebhookEndpoint& w : endpoints) {
        if (event.seq <= w.start_after_seq || !Subscribed(w, type)) continue;
        if (agent_event) {
          // Agent events go to the endpoints of the vaults whose owner owns the agent.
          if (!vault_owner.contains(w.vault_id)) {
            auto vault = store_.GetVault(w.vault_id);
            if (!vault.has_value() && vault.error().code() != StatusCode::kNotFound) {
              return Err(vault.error());
            }
            vault_owner[w.vault_id] = vault.has_value() ? vault->owner_id : "";
          }
          if (vault_owner[w.vault_id] != agent_owner[agent_id]) continue;
        } else if (w.vault_id != event.vault_id) {
          continue;
        }
        WebhookDelivery d;
        ASSIGN_OR_RETURN(d.id, NewWebhookMessageId(random_));
        d.webhook_id = w.id;
        d.vault_id = w.vault_id;
        d.event_type = std::string(type);
        d.audit_seq = event.seq;
        d.payload_json = WebhookEventPayload(type, event, agent_id);
        d.created_at = now;
        d.next_attempt_at = now;
        deliveries.push_back(std::move(d));
      }
    }
  }
  Status s = store_.EnqueueWebhookDeliveries(deliveries, cursor, events.back().seq, nullptr);
  if (s.code() == StatusCode::kAborted) return size_t{0};  // another server queued them
  RETURN_IF_ERROR(s);
  return deliveries.size();
}

WebhookAttempt WebhookDispatcher::Attempt(const WebhookDelivery& d) {
  WebhookAttempt a;
  a.delivery_id = d.id;
  a.lease_owner = options_.sender_id;
  auto fail = [&](std::string error) {
    a.at = clock_.Now();
    a.error = std::move(error);
    const std::optional<UnixMicros> next =
        NextWebhookAttempt(d.attempts + 1, a.at, options_.first_retry);
    a.state = next.has_value() ? WebhookDeliveryState::kPending : WebhookDeliveryState::kFailed;
    a.next_attempt_at = next.value_or(a.at);
    return a;
  };
  auto endpoint = store_.GetWebhook(d.vault_id, d.webhook_id);
  if (!endpoint.has_value()) {
    return fail("the endpoint cannot be read: " + endpoint.error().message());
  }
  auto key =
      keyring_.Decrypt(endpoint->sealed_secret, WebhookSecretAad(endpoint->vault_id, endpoint->id));
  if (!key.has_value()) return fail("the endpoint's signing secret cannot be opened");
  const int64_t timestamp = clock_.Now() / kMicrosPerSecond;
  gateway::OutboundRequest request;
  request.method = "POST";
  request.url = endpoint->url;
  request.body = d.payload_json;
  request.headers = {{"content-type", "application/json"},
                     {"webhook-id", d.id},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", SignWebhook(*key, d.id, timestamp, d.payload_json)}};
  auto response = http_.Send(request);
  if (!response.has_value()) return fail(response.error().message());
  a.status_code = response->status;
  if (response->status < 200 || response->status > 299) {
    return fail(fmt::format("the receiver answered HTTP {}", response->status));
  }
  a.at = clock_.Now();
  a.state = WebhookDeliveryState::kDelivered;
  a.next_attempt_at = a.at;
  return a;
}

StatusOr<size_t> WebhookDispatcher::DeliverDue() {
  const UnixMicros now = clock_.Now();
  const UnixMicros lease_until =
      now + std::chrono::duration_cast<std::chrono::microseconds>(options_.lease).count();
  ASSIGN_OR_RETURN(
      std::vector<WebhookDelivery> due,
      store_.ClaimWebhookDeliveries(options_.sender_id, now, lease_until, options_.claim_batch));
  for (const WebhookDelivery& d : due) {
    const WebhookAttempt attempt = Attempt(d);
    Status recorded = store_.FinishWebhookAttempt(attempt);
    // kNotFound: the endpoint was deleted meanwhile; kAborted: the lease ran out and another
    // sender has it. Neither leaves anything to record here.
    if (!recorded.ok() && recorded.code() != StatusCode::kNotFound &&
        recorded.code() != StatusCode::kAborted) {
      return Err(std::move(recorded));
    }
    if (observer_) observer_(d, attempt);
  }
  return due.size();
}

void WebhookDispatcher::Start(std::function<void(const Status&)> on_error) {
  thread_ = std::thread([this, on_error = std::move(on_error)] {
    MutexLock lock(mu_);
    bool busy = false;
    while (!monotonic_.WaitFor(mu_, cv_,
                               busy ? std::chrono::milliseconds(0) : options_.poll_interval,
                               [this]() COFFER_REQUIRES(mu_) { return stopping_; })) {
      lock.Unlock();
      busy = false;
      auto dispatched = DispatchOnce();
      if (!dispatched.has_value()) {
        if (on_error) on_error(dispatched.error());
      }
      auto delivered = DeliverDue();
      if (!delivered.has_value()) {
        if (on_error) on_error(delivered.error());
      } else {
        busy = *delivered == options_.claim_batch;
      }
      lock.Lock();
    }
  });
}

void WebhookDispatcher::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

}  // namespace coffer
