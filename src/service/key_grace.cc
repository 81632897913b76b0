// Grace windows for rotated API keys: validation, audit targets, and the sweep that audits the
// end of each window (see key_grace.h).
#include "service/key_grace.h"

#include <fmt/format.h>

#include "common/time_format.h"

namespace coffer {

Status ValidateGraceSeconds(int64_t grace_seconds) {
  if (grace_seconds < 0 || grace_seconds > kMaxGraceSeconds) {
    return InvalidArgumentError(
        fmt::format("grace_seconds must be between 0 and {} (7 days)", kMaxGraceSeconds));
  }
  return OkStatus();
}

std::string KeyAuditPath(PrincipalKind kind, std::string_view principal_id,
                         std::string_view public_id, int64_t grace_seconds, UnixMicros until) {
  std::string path = fmt::format("{}/{}/api-keys",
                                 kind == PrincipalKind::kAgent ? "agents" : "users", principal_id);
  if (!public_id.empty()) path += fmt::format("/{}", public_id);
  if (grace_seconds > 0) {
    path += fmt::format("?grace_seconds={}&old_key_until={}", grace_seconds, FormatRfc3339(until));
  }
  return path;
}

std::string_view GraceEndedAction(PrincipalKind kind) {
  return kind == PrincipalKind::kAgent ? "agent.key_grace_ended" : "user.key_grace_ended";
}

KeyGraceSweeper::~KeyGraceSweeper() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

StatusOr<int> KeyGraceSweeper::SweepOnce() {
  int appended = 0;
  for (int i = 0; i < 1000; ++i) {
    const UnixMicros now = clock_.Now();
    ASSIGN_OR_RETURN(std::optional<Credential> ended, store_.NextEndedGrace(now));
    if (!ended.has_value()) break;
    AuditEvent event;
    event.at = now;
    event.actor_kind = "system";
    event.actor_id = "coffer";
    event.action = std::string(GraceEndedAction(ended->principal_kind));
    event.path = KeyAuditPath(ended->principal_kind, ended->principal_id, ended->public_id, 0, 0);
    event.client_ip = "local";
    event.outcome = "success";
    event.status = "OK";
    Status s = store_.EndKeyGrace(ended->public_id, now, &event);
    if (s.ok()) {
      ++appended;
    } else if (s.code() != StatusCode::kAborted) {  // kAborted: another server audited it
      return Err(std::move(s));
    }
  }
  return appended;
}

void KeyGraceSweeper::Start(std::chrono::milliseconds interval,
                            std::function<void(const Status&)> on_error) {
  thread_ = std::thread([this, interval, on_error = std::move(on_error)] {
    MutexLock lock(stop_mu_);
    while (!monotonic_.WaitFor(stop_mu_, stop_cv_, interval,
                               [this]() COFFER_REQUIRES(stop_mu_) { return stopping_; })) {
      lock.Unlock();
      auto swept = SweepOnce();
      if (on_error && !swept.has_value()) on_error(swept.error());
      lock.Lock();
    }
  });
}

}  // namespace coffer
