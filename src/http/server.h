// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast/Asio coroutines. One I/O thread per core
// accepts and parses; handlers (which may block on the store) run on a separate worker pool.
// Enforces header/body limits and read/idle timeouts, assigns request ids, and shuts down
// gracefully: on Shutdown() (or SIGTERM/SIGINT when asked) it stops accepting, lets in-flight
// requests finish and closes idle connections. Beast and Asio stay inside server.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "http/router.h"

namespace coffer::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8200;                            // 0 picks a free port
  int io_threads = 0;                              // 0 = one per core
  int worker_threads = 32;                         // blocking handler pool
  // Run routes marked RouteOptions::io_thread on the I/O threads (falling back to the pool when
  // they would wait). Only for a store whose reads do not wait long (SQLite, not PostgreSQL).
  bool io_thread_routes = false;
  size_t max_body_bytes = 1 << 20;                 // larger bodies get 413
  size_t max_header_bytes = 16 << 10;              // larger headers get 431
  std::chrono::milliseconds read_timeout{15'000};  // a request must arrive within this
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{25'000};  // in-flight requests get this long
  bool handle_signals = true;  // SIGTERM/SIGINT trigger graceful shutdown; SIGHUP reloads TLS
  // HTTPS when both are set: PEM files with the certificate chain (leaf first) and its private
  // key. TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only. Read at Create() and again on
  // each ReloadTls() (SIGHUP), which affects new connections only.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Told the outcome of every TLS reload (on the signal thread; must not block for long).
  std::function<void(const Status&)> on_tls_reload;
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
  // Binds the listening socket. kUnavailable if the address cannot be bound. With
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
};

}  // namespace coffer::http
