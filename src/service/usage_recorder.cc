// UsageRecorder: in-memory usage counts, flushed in batches (see usage_recorder.h).
#include "service/usage_recorder.h"

#include <algorithm>
#include <utility>

namespace coffer {

namespace {

std::string VersionKey(std::string_view secret_id, int64_t version) {
  std::string key(secret_id);
  key += '#';
  key += std::to_string(version);
  return key;
}

// Adds one entry's reads to `into`, keeping the later read and its reader.
void MergeReads(VersionReads& into, const VersionReads& from) {
  into.reads += from.reads;
  if (from.last_read_at >= into.last_read_at) {
    into.last_read_at = from.last_read_at;
    into.last_read_by = from.last_read_by;
  }
}

}  // namespace

UsageRecorder::~UsageRecorder() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (thread_.joinable()) {
    thread_.join();
  }
  (void)Flush();  // at shutdown: what is pending is kept if the store takes it
}

void UsageRecorder::RecordRead(std::string_view secret_id, int64_t version,
                               std::string_view reader_id, UnixMicros at) {
  std::string key = VersionKey(secret_id, version);
  MutexLock lock(mu_);
  auto it = reads_.find(key);
  if (it == reads_.end()) {
    if (reads_.size() >= kMaxPendingUsage) {
      ++dropped_;
      return;
    }
    reads_.emplace(std::move(key),
                   VersionReads{std::string(secret_id), version, 1, at, std::string(reader_id)});
    return;
  }
  MergeReads(it->second, VersionReads{{}, version, 1, at, std::string(reader_id)});
}

void UsageRecorder::RecordAgentUse(std::string_view agent_id, UnixMicros at) {
  MutexLock lock(mu_);
  auto it = agents_.find(std::string(agent_id));
  if (it != agents_.end()) {
    it->second = std::max(it->second, at);
    return;
  }
  if (agents_.size() >= kMaxPendingUsage) {
    ++dropped_;
    return;
  }
  agents_.emplace(std::string(agent_id), at);
}

Status UsageRecorder::Flush() {
  MutexLock flush_lock(flush_mu_);
  UsageBatch batch;
  {
    MutexLock lock(mu_);
    batch.reads.reserve(reads_.size());
    for (auto& [key, r] : reads_) {
      batch.reads.push_back(std::move(r));
    }
    batch.agents.reserve(agents_.size());
    for (const auto& [id, at] : agents_) {
      batch.agents.push_back(AgentUse{id, at});
    }
    reads_.clear();
    agents_.clear();
  }
  if (batch.empty()) {
    return OkStatus();
  }
  Status s = store_.ApplyUsage(batch);
  if (!s.ok()) {
    MutexLock lock(mu_);
    PutBack(batch);
  }
  return s;
}

void UsageRecorder::PutBack(const UsageBatch& batch) {
  for (const VersionReads& r : batch.reads) {
    auto [it, inserted] = reads_.try_emplace(VersionKey(r.secret_id, r.version), r);
    if (!inserted) {
      MergeReads(it->second, r);
    }
  }
  for (const AgentUse& a : batch.agents) {
    auto [it, inserted] = agents_.try_emplace(a.agent_id, a.last_used_at);
    if (!inserted) {
      it->second = std::max(it->second, a.last_used_at);
    }
  }
}

uint64_t UsageRecorder::dropped() const {
  MutexLock lock(mu_);
  return dropped_;
}

void UsageRecorder::Start(std::function<void(const Status&)> on_error) {
  thread_ = std::thread([this, on_error = std::move(on_error)] {
    MutexLock lock(stop_mu_);
    while (!clock_.WaitFor(stop_mu_, stop_cv_, interval_,
                           [this]() COFFER_REQUIRES(stop_mu_) { return stopping_; })) {
      lock.Unlock();
      const Status s = Flush();
      if (on_error && !s.ok()) {
        on_error(s);
      }
      lock.Lock();
    }
  });
}

}  // namespace coffer
