// RequestBodyStream: the bounded, wiped queue between a connection reading a request body and
// the handler's consumer taking it.
#include "http/request_body.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/secret_buffer.h"

namespace coffer::http {

RequestBodyStream::RequestBodyStream(size_t max_buffered, std::optional<uint64_t> declared_length)
    : max_buffered_(std::max<size_t>(max_buffered, 1)), declared_length_(declared_length) {}

RequestBodyStream::~RequestBodyStream() {
  MutexLock lock(mu_);
  for (std::string& chunk : chunks_) SecureWipe(chunk);
}

RequestBodyStream::State RequestBodyStream::Take(char* out, size_t max, size_t* taken) {
  MutexLock lock(mu_);
  size_t n = 0;
  while (n < max && !chunks_.empty()) {
    std::string& front = chunks_.front();
    const size_t give = std::min(max - n, front.size() - front_offset_);
    std::memcpy(out + n, front.data() + front_offset_, give);
    n += give;
    front_offset_ += give;
    if (front_offset_ == front.size()) {
      SecureWipe(front);
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  const bool had_no_room = buffered_ >= max_buffered_;
  buffered_ -= n;
  *taken = n;
  if (n > 0 && had_no_room && buffered_ < max_buffered_ && on_room_) on_room_();
  if (failure_.has_value()) return State::kFailed;
  if (finished_ && chunks_.empty()) return State::kComplete;
  return State::kOpen;
}

void RequestBodyStream::Listen(std::function<void()> listener) {
  MutexLock lock(mu_);
  listener_ = std::move(listener);
  if (listener_ && (!chunks_.empty() || finished_ || failure_.has_value())) listener_();
}

void RequestBodyStream::StopListening() {
  MutexLock lock(mu_);
  listener_ = nullptr;
}

void RequestBodyStream::Abandon() {
  MutexLock lock(mu_);
  if (abandoned_) return;
  abandoned_ = true;
  for (std::string& chunk : chunks_) SecureWipe(chunk);
  chunks_.clear();
  front_offset_ = 0;
  buffered_ = 0;
  if (on_room_) on_room_();
}

Status RequestBodyStream::failure() const {
  MutexLock lock(mu_);
  return failure_.value_or(OkStatus());
}

uint64_t RequestBodyStream::received() const {
  MutexLock lock(mu_);
  return received_;
}

bool RequestBodyStream::Push(std::string_view bytes) {
  MutexLock lock(mu_);
  if (abandoned_) return false;
  if (bytes.empty()) return true;
  chunks_.emplace_back(bytes);
  buffered_ += bytes.size();
  received_ += bytes.size();
  if (listener_) listener_();
  return true;
}

void RequestBodyStream::Finish() {
  MutexLock lock(mu_);
  if (finished_ || failure_.has_value()) return;
  finished_ = true;
  if (listener_) listener_();
}

void RequestBodyStream::Fail(Status why) {
  MutexLock lock(mu_);
  if (finished_ || failure_.has_value()) return;
  failure_ = std::move(why);
  if (listener_) listener_();
}

bool RequestBodyStream::HasRoom() const {
  MutexLock lock(mu_);
  return !abandoned_ && buffered_ < max_buffered_;
}

bool RequestBodyStream::abandoned() const {
  MutexLock lock(mu_);
  return abandoned_;
}

void RequestBodyStream::OnRoom(std::function<void()> on_room) {
  MutexLock lock(mu_);
  on_room_ = std::move(on_room);
}

}  // namespace coffer::http
