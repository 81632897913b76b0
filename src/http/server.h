// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast/Asio coroutines. One I/O thread per core
// accepts and parses; handlers (which may block on the store) run on a separate worker pool.
// Enforces header/body limits, unambiguous framing, read/idle/first-request timeouts and
// connection limits (per client address and in all), assigns request ids, and shuts down
// gracefully: on Shutdown() (or SIGTERM/SIGINT when asked) it stops accepting, lets in-flight
// requests finish and closes idle connections. Beast and Asio stay inside the server*.cc files.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/monotonic_clock.h"
#include "common/random.h"
#include "common/status.h"
#include "http/router.h"

namespace coffer::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8200;     // 0 picks a free port
  int io_threads = 0;       // 0 = one per core
  int worker_threads = 32;  // blocking handler pool
  // Run routes marked RouteOptions::io_thread on the I/O threads (falling back to the pool when
  // they would wait). Only for a store whose reads do not wait long (SQLite, not PostgreSQL).
  bool io_thread_routes = false;
  size_t max_body_bytes = 1 << 20;                 // larger bodies get 413
  size_t max_header_bytes = 16 << 10;              // larger headers get 431
  std::chrono::milliseconds read_timeout{15'000};  // a request must arrive within this
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive connection with no request
  // A new connection must have sent its first request header (after the TLS handshake) this
  // long after it was accepted, or it is closed: connections opened and left silent do not pile
  // up for the whole idle timeout.
  std::chrono::milliseconds first_request_timeout{5'000};
  // Connections open at once from one peer address (the TCP peer, before any X-Forwarded-For);
  // more are closed as soon as accepted. 0 = no limit. Behind a reverse proxy every connection
  // comes from the proxy: raise it there.
  size_t max_connections_per_address = 256;
  // Connections open at once in all. 0 = the open-file limit (RLIMIT_NOFILE, read at Create())
  // less a reserve for the store, logs and the server itself; a larger value is lowered to that.
  // At the limit a new connection makes room by closing the connection idle the longest (one
  // waiting for a request; among the first 16 idle ones in order of acceptance, so that the
  // choice costs little however many are open), or is closed itself when none is idle.
  size_t max_connections = 0;
  std::chrono::milliseconds write_timeout{30'000};
  // Requests waiting at once for a deferred answer (Response::deferred, a long poll); they hold
  // a connection but no worker thread. Beyond it a request that would wait is answered 503 with
  // Retry-After: 1 instead. 0 = none may wait.
  size_t max_waiting_requests = 10'000;
  std::chrono::milliseconds shutdown_grace{25'000};  // in-flight requests get this long
  bool handle_signals = true;  // SIGTERM/SIGINT trigger graceful shutdown; SIGHUP reloads TLS
  // HTTPS when both are set: PEM files with the certificate chain (leaf first) and its private
  // key. TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only. Read at Create() and again on
  // each ReloadTls() (SIGHUP), which affects new connections only. The key file is refused when
  // other users could read or change it (http/tls_key_file.h): 0600 owned by the server's user,
  // or at most 0640 owned by root.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Told the outcome of every TLS reload (on the signal thread; must not block for long).
  std::function<void(const Status&)> on_tls_reload;
  // Measures how long each request took (RequestLogEntry::duration) and how long connections
  // have been idle. The timeouts above are Asio's timers, which run on the steady clock
  // whatever this is. Must outlive the server; never null.
  const MonotonicClock* clock = &DefaultMonotonicClock();
  // Draws the request ids the server assigns. Must outlive the server; never null.
  Random* random = &DefaultRandom();
};

// Called once per finished request (for access logs and metrics), including requests rejected
// for size or syntax (route_template ""), after the response is written. Runs on the I/O threads,
// possibly several at once: must be thread-safe and must not block for long. The request's body
// and credential headers (authorization, proxy-authorization, cookie) are already wiped.
struct RequestLogEntry {
  const Request* request;
  std::string_view route_template;  // "" when no route matched
  int status;
  std::chrono::microseconds duration;
  std::string_view actor_id;  // who made the request, when the handler said (Response::actor_id)
  std::string_view internal_cause;  // why a 5xx happened (Response::internal_cause), or ""
};
using RequestObserver = std::function<void(const RequestLogEntry&)>;

class HttpServer {
 public:
  // Binds the listening socket. kUnavailable if the address cannot be bound; kInvalidArgument
  // without a clock or random source, or naming the file when the TLS files cannot be used
  // (unreadable, malformed, mismatched, or a key other users could read or change). With
  // options.handle_signals, SIGTERM/SIGINT are caught from here on (and acted on once Run() runs).
  // The router is copied; handlers it holds must stay valid while the server lives.
  static StatusOr<std::unique_ptr<HttpServer>> Create(const ServerOptions& options,
                                                      const Router& router,
                                                      RequestObserver observer = nullptr);
  virtual ~HttpServer() = default;

  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Serves until shutdown completes. Call once.
  virtual Status Run() = 0;
  // Starts a graceful shutdown. Thread-safe, idempotent.
  virtual void Shutdown() = 0;
  // Re-reads the TLS certificate and key files; new handshakes use them, connections already
  // open keep theirs. On failure (unreadable or mismatched files) the old ones stay in use and
  // the error says which file is at fault. kFailedPrecondition without TLS. Thread-safe.
  virtual Status ReloadTls() = 0;
  // Whether the server speaks TLS.
  virtual bool tls() const = 0;
  // Connections open right now. Thread-safe.
  virtual size_t active_connections() const = 0;
  // How many connections may be open at once (ServerOptions::max_connections as applied).
  virtual size_t max_connections() const = 0;
  // Connections closed as soon as accepted, over the per-address or the total limit, since
  // Create(). Thread-safe.
  virtual uint64_t refused_connections() const = 0;
  // Idle connections closed to make room for a new one at the total limit. Thread-safe.
  virtual uint64_t evicted_connections() const = 0;
  // Connections waiting for a request right now (not yet chosen to make room). Thread-safe.
  virtual size_t idle_connections() const = 0;
  // Requests waiting for a deferred answer right now. Thread-safe.
  virtual size_t waiting_requests() const = 0;
};

}  // namespace coffer::http
