// WebhookDispatcher: the background work behind webhooks, run by every server. Dispatching reads
// the audit trail after the store's dispatch cursor and queues one delivery per subscribed
// endpoint in the same transaction that moves the cursor (so across servers each event is queued
// once, and none is missed: every change appends its audit event in its own transaction).
// Delivering claims due deliveries under a lease (so no two servers send one at once, and a
// crashed sender's lease runs out), signs them (Standard Webhooks), POSTs them through the
// gateway's guarded client, and records the outcome, retrying on the schedule of
// webhook_retry.h. Thread-safe; one background thread when started.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/monotonic_clock.h"
#include "common/mutex.h"
#include "common/random.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "gateway/http_client.h"
#include "model/webhook.h"
#include "store/store.h"

namespace coffer {

struct WebhookDispatcherOptions {
  std::chrono::milliseconds poll_interval{500};  // how often the thread looks for work
  std::chrono::milliseconds first_retry{5000};   // the wait after a first failed attempt
  std::chrono::seconds lease{60};                // how long a claimed delivery is this sender's
  size_t dispatch_batch = 500;                   // audit events read per dispatch
  size_t claim_batch = 16;                       // deliveries claimed per round
  std::string sender_id;  // this server's name on its leases (unique per process)
};

// Hears every attempt: the delivery (as claimed) and what it came to. Must be quick.
using WebhookAttemptObserver =
    std::function<void(const WebhookDelivery& delivery, const WebhookAttempt& attempt)>;

class WebhookDispatcher {
 public:
  // Everything passed outlives the dispatcher.
  WebhookDispatcher(Store& store, const Clock& clock, const MonotonicClock& monotonic,
                    const Keyring& keyring, gateway::HttpClient& http, Random& random,
                    WebhookDispatcherOptions options, WebhookAttemptObserver observer = {});
  // Stops the thread, if started.
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Queues the deliveries of the audit events after the cursor (one batch) and moves the
  // cursor past them. Returns how many deliveries were queued (0 when another server moved the
  // cursor first); the store's error otherwise.
  StatusOr<size_t> DispatchOnce();
  // Claims the deliveries due now (one batch), attempts each and records the outcome. Returns
  // how many were attempted; the store's error when the claim fails.
  StatusOr<size_t> DeliverDue();

  // Runs DispatchOnce and DeliverDue every poll_interval on a background thread (at once again
  // while either found a full batch); `on_error` hears their failures.
  void Start(std::function<void(const Status&)> on_error);
  // Stops the thread after the round it is in. Idempotent.
  void Stop();

 private:
  // The attempt's outcome for one claimed delivery.
  WebhookAttempt Attempt(const WebhookDelivery& delivery);

  Store& store_;
  const Clock& clock_;
  const MonotonicClock& monotonic_;
  const Keyring& keyring_;
  gateway::HttpClient& http_;
  Random& random_;
  const WebhookDispatcherOptions options_;
  const WebhookAttemptObserver observer_;

  Mutex mu_;
  CondVar cv_;
  bool stopping_ COFFER_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace coffer
