// PgChangeListener: keeps a PostgreSQL store's ChangeFeed current with what every server
// changes. Each change transaction bumps the one-row change_generation counter and NOTIFYs
// kChangeChannel with "<generation> <change>" (sent at commit). A thread holds a connection of
// its own that LISTENs: it publishes every notification to the feed and, every heartbeat, reads
// the counter. A counter ahead of the notifications seen means some were missed or are still on
// the way, and kEverything is published. Only then is the feed trusted until the heartbeat's
// start + kMaxChangeDelay, so whatever was committed before a heartbeat began has been
// published by the time the feed is trusted on its strength. A broken connection makes the feed
// untrusted at once, a stalled one within kMaxChangeDelay; after reconnecting, kEverything is
// published before the feed is trusted again.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/monotonic_clock.h"
#include "common/status.h"
#include "store/change_feed.h"

namespace coffer {

class PgConnection;

inline constexpr std::string_view kChangeChannel = "coffer_changes";

// The SQL a change transaction runs (one text parameter: ChangePayload) to count and announce
// its change.
inline constexpr std::string_view kAnnounceChangeSql =
    "WITH g AS (UPDATE change_generation SET generation = generation + 1 RETURNING generation)"
    " SELECT pg_notify('coffer_changes', g.generation::text || ' ' || $1) FROM g";

// A change no cache keeps (a secret's, for those waiting on it) is announced uncounted, as
// generation 0: it does not take change_generation's row lock, so writes of secrets on every
// server do not queue behind one another. A listener that lost its connection reports
// kEverything when it is back, which covers these too.
inline constexpr std::string_view kAnnounceUncountedChangeSql =
    "SELECT pg_notify('coffer_changes', '0 ' || $1)";

// "credential ID", "principal agent ID", "vault ID", "policies ID", "secret VAULT PATH",
// "binding ID AGENT_ID", "everything"; and back
// (nullopt for anything else).
std::string ChangePayload(const StoreChange& change);
std::optional<StoreChange> ParseChangePayload(std::string_view payload);

struct PgChangeListenerOptions {
  std::chrono::milliseconds heartbeat{250};  // how often the counter is read
  // A heartbeat unanswered this long means a dead connection: reconnect. (The feed's trust
  // lapses after kMaxChangeDelay anyway.)
  std::chrono::milliseconds heartbeat_timeout{5000};
  std::chrono::milliseconds retry{250};  // wait between connection attempts
  int connect_timeout_seconds = 2;
  // Told, on the listener's thread, when following stops (why) and when it resumes (OK).
  std::function<void(const Status&)> on_state;
};

class PgChangeListener {
 public:
  // Starts the thread, which connects with `conninfo` in the background; until its first
  // heartbeat the feed is not Current(). `feed` must outlive the listener.
  PgChangeListener(std::string conninfo, ChangeFeed& feed, PgChangeListenerOptions options);
  // Stops the thread (at most a connection attempt's timeout later). The feed keeps what it
  // was told; its trust lapses by itself.
  ~PgChangeListener();
  PgChangeListener(const PgChangeListener&) = delete;
  PgChangeListener& operator=(const PgChangeListener&) = delete;

 private:
  enum class Wake : uint8_t { kReadable, kTimeout, kStopped };
  enum class State : uint8_t { kStarting, kUp, kDown };
  void Run();
  // Follows on one connection until it fails (the error) or the listener stops (OK).
  Status Follow(PgConnection& conn);
  // Tells on_state about a change of state (once per outage, once per recovery).
  void Report(State state, const Status& why);
  // Publishes every notification `conn` has read; tracks the last generation seen.
  void Drain(PgConnection& conn);
  // Waits for input on `fd`, the stop signal or `deadline`, whichever comes first. poll()
  // waits in real time as long as `deadline` is away on clock_.
  Wake Wait(int fd, MonotonicTime deadline);

  const std::string conninfo_;
  ChangeFeed& feed_;
  const MonotonicClock& clock_;  // the feed's: its trust is measured on it
  const PgChangeListenerOptions options_;
  const int wake_fd_;  // an eventfd written to stop the thread
  std::atomic<bool> stopping_{false};
  // Used by the thread only: the highest generation notified, and whether the counter has been
  // read on this connection (until then a gap in generations means nothing).
  int64_t last_seen_ = -1;
  bool synced_ = false;
  State state_ = State::kStarting;
  std::thread thread_;  // last: started once everything above is set
};

}  // namespace coffer
