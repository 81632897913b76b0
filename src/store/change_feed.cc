// ChangeFeed: watchers behind a mutex, called in turn by Publish; the trust window as an atomic.
#include "store/change_feed.h"

#include <algorithm>
#include <utility>

#include "common/mutex.h"

namespace coffer {

struct ChangeFeed::Subscription::Watchers {
  Mutex mu;  // held while callbacks run, so a subscription ends only between calls
  uint64_t next_id COFFER_GUARDED_BY(mu) = 1;
  std::vector<std::pair<uint64_t, ChangeFeed::Callback>> list COFFER_GUARDED_BY(mu);
};

ChangeFeed::Subscription& ChangeFeed::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    watchers_ = std::move(other.watchers_);
    id_ = other.id_;
  }
  return *this;
}

void ChangeFeed::Subscription::Reset() {
  if (std::shared_ptr<Watchers> watchers = watchers_.lock()) {
    MutexLock lock(watchers->mu);
    std::erase_if(watchers->list, [&](const auto& entry) { return entry.first == id_; });
  }
  watchers_.reset();
}

ChangeFeed::ChangeFeed(Writers writers, const MonotonicClock& clock)
    : shared_(writers == Writers::kShared),
      clock_(clock),
      watchers_(std::make_shared<Watchers>()) {}

ChangeFeed::~ChangeFeed() = default;

ChangeFeed::Subscription ChangeFeed::Watch(Callback on_change) {
  MutexLock lock(watchers_->mu);
  const uint64_t id = watchers_->next_id++;
  watchers_->list.emplace_back(id, std::move(on_change));
  return Subscription(watchers_, id);
}

void ChangeFeed::Publish(const StoreChange& change) {
  MutexLock lock(watchers_->mu);
  for (const auto& [id, on_change] : watchers_->list) {
    on_change(change);
  }
}

void ChangeFeed::TrustUntil(MonotonicTime until) {
  trusted_until_.store(std::max<MonotonicTime::rep>(until.time_since_epoch().count(), 0),
                       std::memory_order_release);
}

}  // namespace coffer
