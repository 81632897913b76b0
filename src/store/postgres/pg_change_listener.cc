// PgChangeListener: the LISTEN connection's loop (heartbeat, notifications, reconnects) and the
// NOTIFY payload's format.
#include "store/postgres/pg_change_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <memory>

#include "store/postgres/pg_connection.h"

namespace coffer {

namespace {

constexpr std::string_view kGenerationSql = "SELECT generation FROM change_generation";

// `text` with `prefix` removed, when it starts with it.
std::optional<std::string_view> After(std::string_view text, std::string_view prefix) {
  if (!text.starts_with(prefix)) {
    return std::nullopt;
  }
  return text.substr(prefix.size());
}

// An id as the store's tables hold them: non-empty, printable, no spaces.
bool IsId(std::string_view id) {
  if (id.empty() || id.size() > 200) {
    return false;
  }
  for (const char c : id) {
    if (c <= 0x20 || c >= 0x7F) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string ChangePayload(const StoreChange& change) {
  switch (change.kind) {
    case StoreChange::Kind::kCredential:
      return "credential " + change.id;
    case StoreChange::Kind::kPrincipal:
      return "principal " + std::string(PrincipalKindName(change.principal_kind)) + " " + change.id;
    case StoreChange::Kind::kVault:
      return "vault " + change.id;
    case StoreChange::Kind::kPolicies:
      return "policies " + change.id;
    case StoreChange::Kind::kSecret:
      return "secret " + change.id + " " + change.path;
    case StoreChange::Kind::kBinding:
      return "binding " + change.id + " " + change.agent_id;
    case StoreChange::Kind::kEverything:
      break;
  }
  return "everything";
}

std::optional<StoreChange> ParseChangePayload(std::string_view payload) {
  if (payload == "everything") {
    return StoreChange::Everything();
  }
  if (auto id = After(payload, "credential "); id && IsId(*id)) {
    return StoreChange::Credential(std::string(*id));
  }
  if (auto id = After(payload, "vault "); id && IsId(*id)) {
    return StoreChange::Vault(std::string(*id));
  }
  if (auto id = After(payload, "policies "); id && IsId(*id)) {
    return StoreChange::Policies(std::string(*id));
  }
  if (auto rest = After(payload, "secret ")) {
    const size_t space = rest->find(' ');
    if (space != std::string_view::npos && IsId(rest->substr(0, space)) &&
        IsId(rest->substr(space + 1))) {
      return StoreChange::Secret(std::string(rest->substr(0, space)),
                                 std::string(rest->substr(space + 1)));
    }
  }
  if (auto rest = After(payload, "binding ")) {
    const size_t space = rest->find(' ');
    if (space != std::string_view::npos && IsId(rest->substr(0, space)) &&
        IsId(rest->substr(space + 1))) {
      return StoreChange::Binding(std::string(rest->substr(0, space)),
                                  std::string(rest->substr(space + 1)));
    }
  }
  for (const PrincipalKind kind : {PrincipalKind::kUser, PrincipalKind::kAgent}) {
    const std::string prefix = "principal " + std::string(PrincipalKindName(kind)) + " ";
    if (auto id = After(payload, prefix); id && IsId(*id)) {
      return StoreChange::Principal(kind, std::string(*id));
    }
  }
  return std::nullopt;
}

PgChangeListener::PgChangeListener(std::string conninfo, ChangeFeed& feed,
                                   PgChangeListenerOptions options)
    : conninfo_(std::move(conninfo)),
      feed_(feed),
      clock_(feed.clock()),
      options_(std::move(options)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      thread_([this] { Run(); }) {}

PgChangeListener::~PgChangeListener() {
  stopping_.store(true);
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  thread_.join();
  ::close(wake_fd_);
}

PgChangeListener::Wake PgChangeListener::Wait(int fd, MonotonicTime deadline) {
  while (!stopping_.load()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_.Now());
    if (left.count() <= 0) {
      return Wake::kTimeout;
    }
    // poll() skips a negative fd, so Wait(-1, …) just sleeps until the deadline or a stop.
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n > 0 && fds[0].revents != 0) {
      return Wake::kReadable;
    }
    // n == 0 (timed out: checked above), EINTR, or the wake event: loop to look again.
  }
  return Wake::kStopped;
}

void PgChangeListener::Drain(PgConnection& conn) {
  while (std::optional<PgNotification> n = conn.TakeNotification()) {
    if (n->channel != kChangeChannel) {
      continue;
    }
    const std::string_view text = n->payload;
    const size_t space = text.find(' ');
    int64_t generation = 0;
    const std::string_view number = text.substr(0, space);
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), generation);
    std::optional<StoreChange> change;
    if (ec == std::errc() && end == number.data() + number.size() &&
        space != std::string_view::npos) {
      change = ParseChangePayload(text.substr(space + 1));
    }
    if (!change.has_value()) {
      feed_.Publish(StoreChange::Everything());  // not ours to understand: assume the worst
      continue;
    }
    // Generations are notified in commit order, one by one: a gap is a notification lost.
    // Generation 0 is a change no cache keeps (a secret's: kAnnounceUncountedChangeSql).
    if (generation != 0 && synced_ && generation > last_seen_ + 1) {
      feed_.Publish(StoreChange::Everything());
    }
    feed_.Publish(*change);
    last_seen_ = std::max(last_seen_, generation);
  }
}

Status PgChangeListener::Follow(PgConnection& conn) {
  last_seen_ = -1;
  synced_ = false;
  // Named apart from the pool's connections, so an operator sees it in pg_stat_activity.
  RETURN_IF_ERROR(
      conn.ExecScript("SET application_name = 'coffer-change-feed'; LISTEN coffer_changes"));
  while (!stopping_.load()) {
    const MonotonicTime started = clock_.Now();
    RETURN_IF_ERROR(conn.SendQuery(kGenerationSql));
    std::optional<int64_t> generation;
    for (bool done = false; !done;) {
      // Slower than kMaxChangeDelay, the feed is no longer trusted anyway (its trust lapsed);
      // much slower, the connection is taken for dead.
      switch (Wait(conn.socket(), started + options_.heartbeat_timeout)) {
        case Wake::kStopped:
          return OkStatus();
        case Wake::kTimeout:
          return UnavailableError("store: the change feed's heartbeat went unanswered");
        case Wake::kReadable:
          break;
      }
      RETURN_IF_ERROR(conn.ConsumeInput());
      Drain(conn);
      while (!done && !conn.Busy()) {
        ASSIGN_OR_RETURN(std::optional<PgResult> result, conn.TakeResult());
        if (!result.has_value()) {
          done = true;
        } else if (result->rows() == 1) {
          generation = result->Int(0, 0);
        }
      }
    }
    Drain(conn);
    if (!generation.has_value()) {
      return InternalError("store: the change_generation row is missing");
    }
    if (!synced_ || *generation > last_seen_) {
      feed_.Publish(StoreChange::Everything());
      last_seen_ = std::max(last_seen_, *generation);
    }
    synced_ = true;
    Report(State::kUp, OkStatus());
    feed_.TrustUntil(started + kMaxChangeDelay);
    const MonotonicTime next = started + options_.heartbeat;
    for (;;) {
      const Wake wake = Wait(conn.socket(), next);
      if (wake == Wake::kStopped) {
        return OkStatus();
      }
      if (wake == Wake::kTimeout) {
        break;
      }
      RETURN_IF_ERROR(conn.ConsumeInput());
      Drain(conn);
    }
  }
  return OkStatus();
}

void PgChangeListener::Report(State state, const Status& why) {
  if (state == state_) {
    return;
  }
  state_ = state;
  if (options_.on_state) {
    options_.on_state(why);
  }
}

void PgChangeListener::Run() {
  while (!stopping_.load()) {
    Status ended = OkStatus();
    {
      auto conn = PgConnection::Connect(conninfo_, options_.connect_timeout_seconds);
      ended = conn.has_value() ? Follow(**conn) : conn.error();
    }  // closed before waiting to retry
    if (stopping_.load()) {
      break;
    }
    // Known to be blind from now on: stop vouching at once rather than when the trust lapses.
    feed_.TrustUntil(MonotonicTime::min());
    Report(State::kDown, ended.ok() ? UnavailableError("store: the change feed stopped") : ended);
    // Woken by a stop or the retry time: the loop checks which.
    (void)Wait(-1, clock_.Now() + options_.retry);
  }
}

}  // namespace coffer
