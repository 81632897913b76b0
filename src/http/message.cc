// Lookups on the plain Request record: headers (names already lower-cased by the server) and
// decoded query parameters, both the first match in the order received; the wake signal of
// deferred answers and the queue of a streamed body.
#include "http/message.h"

#include <utility>

#include "common/secret_buffer.h"

namespace coffer::http {

namespace {

std::optional<std::string_view> FindFirst(
    const std::vector<std::pair<std::string, std::string>>& pairs, std::string_view key) {
  for (const auto& [name, value] : pairs) {
    if (name == key) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> Request::Header(std::string_view lower_name) const {
  return FindFirst(headers, lower_name);
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  return FindFirst(query, name);
}

void WakeSignal::Fire() {
  MutexLock lock(mu_);
  fired_ = true;
  if (listener_) {
    listener_();
  }
}

void WakeSignal::Listen(std::function<void()> listener) {
  MutexLock lock(mu_);
  listener_ = std::move(listener);
  if (fired_ && listener_) {
    listener_();
  }
}

void WakeSignal::StopListening() {
  MutexLock lock(mu_);
  listener_ = nullptr;
}

bool WakeSignal::TakeFired() {
  MutexLock lock(mu_);
  return std::exchange(fired_, false);
}

BodyStream::~BodyStream() {
  MutexLock lock(mu_);
  WipeChunks(queued_);
}

bool BodyStream::Write(std::string_view bytes) {
  MutexLock lock(mu_);
  if (state_ != State::kOpen) {
    return false;
  }
  if (bytes.empty()) {
    return true;
  }
  queued_.emplace_back(bytes);
  if (listener_) {
    listener_();
  }
  return true;
}

void BodyStream::Finish() {
  MutexLock lock(mu_);
  if (state_ != State::kOpen) {
    return;
  }
  state_ = State::kFinished;
  if (listener_) {
    listener_();
  }
}

void BodyStream::Fail() {
  MutexLock lock(mu_);
  if (state_ != State::kOpen) {
    return;
  }
  state_ = State::kFailed;
  WipeChunks(queued_);  // never sent: the connection closes without them
  if (listener_) {
    listener_();
  }
}

void BodyStream::OnAbandoned(std::function<void()> callback) {
  {
    MutexLock lock(mu_);
    if (!callback_due_) {
      on_abandoned_ = std::move(callback);
      return;
    }
    callback_due_ = false;
  }
  if (callback) {
    callback();
  }
}

BodyStream::State BodyStream::Take(std::deque<std::string>& chunks) {
  MutexLock lock(mu_);
  while (!queued_.empty()) {
    std::string& front = queued_.front();
    chunks.push_back(std::move(front));
    // A short string is copied out of its inline buffer, not moved: wipe what stays there.
    SecureWipe(front.data(), front.capacity());
    queued_.pop_front();
  }
  return state_;
}

void BodyStream::Listen(std::function<void()> listener) {
  MutexLock lock(mu_);
  listener_ = std::move(listener);
  if (listener_ && (!queued_.empty() || state_ != State::kOpen)) {
    listener_();
  }
}

void BodyStream::StopListening() {
  MutexLock lock(mu_);
  listener_ = nullptr;
}

void BodyStream::Abandon() {
  std::function<void()> callback;
  {
    MutexLock lock(mu_);
    WipeChunks(queued_);
    if (state_ != State::kOpen) {
      return;
    }
    state_ = State::kAbandoned;
    if (on_abandoned_) {
      callback = std::move(on_abandoned_);
      on_abandoned_ = nullptr;
    } else {
      callback_due_ = true;
    }
  }
  if (callback) {
    callback();
  }
}

void BodyStream::WipeChunks(std::deque<std::string>& chunks) {
  for (std::string& chunk : chunks) {
    SecureWipe(chunk);
  }
  chunks.clear();
}

}  // namespace coffer::http
