// CurlCall and CurlEngine: the libcurl side of upstream.h's client. A CurlEngine is one multi
// handle driven through libcurl's socket interface (curl_multi_socket_action) under its lock,
// waiting (gateway/curl_socket_loop.h) on a transfer thread of its own or under a ThreadLoop that
// polls it; a CurlCall is one call on it. Internal to gateway/ (upstream.cc).
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "gateway/curl_socket_loop.h"
#include "gateway/curl_transfer.h"
#include "gateway/egress_guard.h"
#include "gateway/upstream.h"

namespace coffer::gateway {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class CurlEngine;

class CurlCall final : public UpstreamCall, public std::enable_shared_from_this<CurlCall> {
 public:
  CurlCall(UpstreamRequest r, std::shared_ptr<UpstreamSink> s, std::weak_ptr<CurlEngine> e)
      : request(std::move(r)), sink(std::move(s)), engine_(std::move(e)) {}
  ~CurlCall() override { WipeRequest(); }
  CurlCall(const CurlCall&) = delete;
  CurlCall& operator=(const CurlCall&) = delete;

  void Cancel() override;

  bool cancel_requested() const { return cancel_requested_.load(std::memory_order_acquire); }
  std::weak_ptr<CurlEngine> engine() const { return engine_; }

  // The request may carry the credential (a header, the query): gone once the call ends.
  void WipeRequest() {
    SecureWipe(request.url);
    SecureWipe(request.body);
    for (auto& [name, value] : request.headers) SecureWipe(value);
    request.headers.clear();
  }

  // --- the driving thread's (under the engine's xfer_mu_) ---
  UpstreamRequest request;
  std::shared_ptr<UpstreamSink> sink;
  std::string host;  // for error messages
  std::unique_ptr<CURL, CurlEasyDeleter> easy;
  CurlHeaderList header_list;
  SocketGuard socket_guard;
  int status = 0;
  HeaderList head;
  size_t head_bytes = 0;
  bool head_sent = false;
  size_t received = 0;
  bool over_bound = false;
  bool sink_stopped = false;
  // A streamed request body (request.body_source).
  size_t sent = 0;
  bool upload_paused = false;
  bool upload_too_large = false;
  std::optional<Status> upload_failed;
  bool touched = false;  // the sink was told something in this round of the transfer loop

 private:
  std::atomic<bool> cancel_requested_{false};
  const std::weak_ptr<CurlEngine> engine_;
};

class CurlEngine {
 public:
  // Who waits for the transfers: a thread of the engine's own, or the thread loop that polls
  // fd() (Poll) whenever it is readable.
  enum class Driver { kOwnThread, kThreadLoop };

  // Check ok() before anything else: false when the process was out of memory or descriptors.
  CurlEngine(const EgressGuard& guard, size_t max_concurrent, Driver driver);
  ~CurlEngine();
  CurlEngine(const CurlEngine&) = delete;
  CurlEngine& operator=(const CurlEngine&) = delete;
  bool ok() const { return loop_ != nullptr; }

  // Ends every call with kCancelled (and joins the transfer thread).
  void Stop() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    Wake();
    if (thread_.joinable()) {
      thread_.join();
    } else {
      EndAll();  // the thread loop's next Poll sees stopping_ and stops watching
    }
  }

  // Driven by a thread loop: one round of what is ready now. False once stopping (stop
  // watching).
  bool Poll() { return Round(loop_->Wait(0)); }
  int fd() const { return loop_->fd(); }

  // Starts the call. On a thread loop's engine (called on the loop's thread) it is queued for
  // the loop's next round. On the transfer thread's, it starts at once on the calling thread
  // when no one else is driving the transfers (so the request leaves without waiting for the
  // transfer thread to wake), else through the transfer thread's queue.
  void Start(std::shared_ptr<CurlCall> call) {
    if (driver_ == Driver::kThreadLoop) {
      // Started on the loop's own thread, which runs the queue as soon as it is back in its
      // loop (the wake-up makes the engine's descriptor readable): the calls that one pass over
      // the loop's ready connections starts leave together.
      bool first = false;
      {
        MutexLock lock(mu_);
        first = pending_.empty();
        pending_.push_back(std::move(call));
      }
      if (first) Wake();
      return;
    }
    if (!driving_ && xfer_mu_.TryLock()) {
      bool queued = false;
      {
        MutexLock lock(mu_);
        queued = stopping_ || !pending_.empty() || active_.size() >= max_concurrent_;
        if (queued) pending_.push_back(call);
      }
      if (!queued) {
        driving_ = true;
        Begin(call);
        DriveDue();
        driving_ = false;
      }
      xfer_mu_.Unlock();
      if (queued) Wake();
      return;
    }
    {
      MutexLock lock(mu_);
      pending_.push_back(std::move(call));
    }
    Wake();
  }

  // The call's body source may have more: resume its paused upload.
  void RequestUnpause(std::shared_ptr<CurlCall> call) {
    {
      MutexLock lock(mu_);
      unpauses_.push_back(std::move(call));
    }
    Wake();
  }

  void RequestCancel(std::shared_ptr<CurlCall> call) {
    {
      MutexLock lock(mu_);
      cancels_.push_back(std::move(call));
    }
    Wake();
  }

  // Calls whose sink was told something in this round (OnIdle is due). Under xfer_mu_.
  std::vector<CurlCall*> touched_;

 private:
  void Run();
  // One round of the transfers: the queues, the ready sockets, the timeouts. False when
  // stopping (nothing done).
  bool Round(const std::vector<std::pair<curl_socket_t, int>>& ready);
  // Ends every call and every queued one with kCancelled.
  void EndAll();
  void Wake() { loop_->Wake(); }
  // --- under xfer_mu_ ---
  void Begin(const std::shared_ptr<CurlCall>& call);
  // Runs libcurl's due timeouts (a call just begun sends its request), then Settle.
  void DriveDue();
  // Ends the calls libcurl finished and tells the others' sinks that this round is over.
  void Settle();
  Status Configure(CurlCall& call);
  // Removes the call from the multi handle and tells its sink.
  void End(CurlCall* call, Status status);
  static void Tell(CurlCall& call, Status status);
  Status Outcome(CurlCall& call, CURLcode rc);

  const EgressGuard guard_;
  const size_t max_concurrent_;
  const Driver driver_;
  CURLM* multi_ = nullptr;
  std::unique_ptr<CurlSocketLoop> loop_;  // what the transfer thread (or the thread loop) waits on
  Mutex mu_;
  std::deque<std::shared_ptr<CurlCall>> pending_ COFFER_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<CurlCall>> cancels_ COFFER_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<CurlCall>> unpauses_ COFFER_GUARDED_BY(mu_);
  bool stopping_ COFFER_GUARDED_BY(mu_) = false;
  // Held by whichever thread drives the transfers: the multi handle, every call's transfer
  // state and active_. Never taken while mu_ is held.
  Mutex xfer_mu_;
  // True while this thread drives (a sink's callback that starts a call queues it instead of
  // taking xfer_mu_ again).
  static thread_local bool driving_;
  // The calls on the multi handle.
  std::unordered_map<CurlCall*, std::shared_ptr<CurlCall>> active_;
  std::thread thread_;
};

}  // namespace coffer::gateway
