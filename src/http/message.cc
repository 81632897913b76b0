// Lookups on the plain Request record: headers (names already lower-cased by the server) and
// decoded query parameters. Both return the first match, in the order received.
#include "http/message.h"

#include <utility>

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

}  // namespace coffer::http
