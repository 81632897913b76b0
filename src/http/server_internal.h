// BeastHttpServer, the HttpServer of server.h on Boost.Beast/Asio, and the connection records it
// keeps. Only the http/server*.cc files include this header: Beast and Asio stay out of server.h
// and of every other layer. Each group of members below names the file that defines it.
#pragma once

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/in_flight.h"
#include "common/mutex.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "http/request_body.h"
#include "http/server.h"

namespace coffer::http::server_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
// The clock of the sockets' deadlines: Asio's timers run on it.
using TimerClock = asio::steady_timer::clock_type;

// Every byte a request brings in (raw bytes in the read buffer, header values such as
// Authorization, the body) lives in memory from this allocator, which wipes it on release.
template <typename T>
class WipingAllocator {
 public:
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using is_always_equal = std::true_type;

  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebinding must be implicit

  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    SecureWipe(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

using ReadBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What graceful shutdown and the connection limit need of a connection, whatever its stream.
struct ConnectionBase {
  virtual ~ConnectionBase() = default;
  // Closes the connection if it is waiting for a request (on its own strand).
  virtual void CloseIfIdle() = 0;
  // Waiting for a request (or, with TLS, for the handshake) since idle_since (on the server's
  // clock): nothing would be lost by closing. Written only on the connection's strand; read
  // there and by the accept loop.
  void SetIdle(bool now_idle, const MonotonicClock& clock) {
    idle_since.store(now_idle ? clock.Now().time_since_epoch().count() : kBusy);
  }
  bool idle() const { return idle_since.load() != kBusy; }
  static constexpr MonotonicTime::rep kBusy = -1;
  std::atomic<MonotonicTime::rep> idle_since{kBusy};
  // A streamed request body is being read beside the answer (on the connection's strand): the
  // hang-up watch must neither read nor cancel the socket meanwhile.
  bool reading_body = false;
};

// One client connection. A TLS connection keeps the context it was accepted with, so a reload
// never pulls it from under it.
template <typename Stream>
struct Connection final : ConnectionBase, std::enable_shared_from_this<Connection<Stream>> {
  Connection(tcp::socket socket, std::shared_ptr<ssl::context> context)
      : tls_context(std::move(context)), stream(MakeStream(std::move(socket), tls_context.get())) {}

  static Stream MakeStream(tcp::socket socket, ssl::context* context) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return TlsStream(std::move(socket), *context);
    } else {
      return PlainStream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }

  void CloseIfIdle() override {
    auto self = this->shared_from_this();
    asio::post(stream.get_executor(), [self] {
      if (self->idle()) {
        beast::error_code ignored;
        self->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        self->lowest().close();
      }
    });
  }

  const std::shared_ptr<ssl::context> tls_context;  // null for plain HTTP
  Stream stream;
};

// How many connections may be open at once: `configured` (0 = no wish), but never more than the
// open-file limit less a reserve.
size_t ConnectionLimit(size_t configured);

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(const ServerOptions& options, const Router& router, RequestObserver observer)
      : options_(options),
        clock_(*options.clock),
        random_(*options.random),
        router_(router),
        observer_(std::move(observer)),
        max_connections_(ConnectionLimit(options.max_connections)),
        contexts_(MakeContexts(options.io_threads)),
        keep_running_(KeepRunning(contexts_)),
        workers_(static_cast<size_t>(std::max(1, options.worker_threads))),
        control_(asio::make_strand(*contexts_.front())),
        acceptor_(control_),
        signals_(control_),
        grace_timer_(control_) {}

  ~BeastHttpServer() override;  // server.cc

  Status Bind();     // server_listener.cc
  Status LoadTls();  // server_tls.cc

  uint16_t port() const override { return port_; }
  Status Run() override;
  void Shutdown() override;
  Status ReloadTls() override;
  bool tls() const override { return !options_.tls_cert_file.empty(); }
  size_t active_connections() const override { return active_connections_.load(); }
  size_t max_connections() const override { return max_connections_; }
  uint64_t refused_connections() const override { return refused_connections_.load(); }
  uint64_t evicted_connections() const override { return evicted_connections_.load(); }
  size_t idle_connections() const override;
  size_t waiting_requests() const override { return waiting_requests_.load(); }

 private:
  // Accepting and the connection limits (server_listener.cc).
  asio::awaitable<void> AcceptLoop();
  void StartConnection(tcp::socket socket);
  // Makes room for one more connection if the limits allow it: the peer's address is under
  // its limit and, at the total limit, an idle connection is closed for it. On success the
  // connection is registered under a new id.
  std::optional<uint64_t> AdmitLocked(const std::string& address,
                                      std::shared_ptr<ConnectionBase>& evict) COFFER_REQUIRES(mu_);
  // The connection waiting for a request the longest, not already being closed for room; null
  // if none.
  std::shared_ptr<ConnectionBase> OldestIdleLocked() COFFER_REQUIRES(mu_);
  void Deregister(uint64_t id);

  // One connection, request after request (server_connection.cc).
  template <typename Stream>
  asio::awaitable<void> Serve(std::shared_ptr<Connection<Stream>> conn, uint64_t id,
                              std::string peer_ip);
  // Reads, handles and answers one request. Returns whether the connection may be reused.
  // `header_deadline`, for a connection's first request, bounds the wait for its header.
  template <typename Stream>
  asio::awaitable<bool> ServeOne(Connection<Stream>& conn, ReadBuffer& buffer,
                                 const std::string& peer_ip,
                                 std::optional<TimerClock::time_point> header_deadline);
  // Everything after the read: routes the request, waits for its answer and sends it.
  template <typename Stream>
  asio::awaitable<bool> Answer(Connection<Stream>& conn, Request& request, unsigned version,
                               bool client_keep_alive, MonotonicTime start);
  template <typename Stream>
  // `head`: the answer to a HEAD request, sent with the body's Content-Length but not the body.
  asio::awaitable<bool> Write(Connection<Stream>& conn, const Response& response, unsigned version,
                              bool keep_alive, const std::string& request_id, bool head = false);
  template <typename Stream>
  asio::awaitable<void> LingerAndClose(Connection<Stream>& conn);
  void Observe(const Request& request, std::string_view route_template, int status,
               MonotonicTime start, std::string_view actor_id = {},
               std::string_view internal_cause = {});

  // Handlers (server_dispatch.cc).
  // Routes the request and runs its handler on the worker pool, filling `response` in place.
  asio::awaitable<void> Dispatch(const Request& request, std::string& route_template,
                                 Response& response);
  // Runs response.before_send and resumes on the connection's strand when its continuation is
  // called; a non-OK outcome replaces the response with its problem.
  asio::awaitable<void> AwaitBeforeSend(Response& response);

  // A request waiting on its connection's strand, holding no thread: for a deferred answer
  // (server_wait.cc) or for the next bytes of a streamed body (server_stream.cc). The flags are
  // touched on the connection's strand only.
  struct Wait {
    explicit Wait(asio::any_io_executor ex) : executor(ex), timer(ex) {}
    asio::any_io_executor executor;      // the connection's strand
    asio::steady_timer timer;            // cancelled by every reason to look again
    std::shared_ptr<WakeSignal> signal;  // a deferred answer's
    bool woken = false;                  // the signal fired, or the stream has something to take
    bool gone = false;                   // the client closed its connection
    bool ending = false;                 // the server is shutting down
    bool done = false;                   // the wait is over: late completions do nothing
  };
  // Posts `apply` to the wait's strand, then cancels its timer so the waiting coroutine looks.
  template <typename Apply>
  static void Nudge(const std::shared_ptr<Wait>& wait, Apply apply) {
    asio::post(wait->executor, [wait, apply] {
      if (!wait->done) {
        apply(*wait);
        wait->timer.cancel();
      }
    });
  }
  // Watches the socket for the client going away while its request waits (sets `gone`): readable
  // with nothing to read (end of stream), an error, or a TLS alert (close_notify) first in line.
  // Bytes of a pipelined request stay unread for the connection; watching then stops
  // (server_wait.cc).
  static void WatchForHangUp(const std::shared_ptr<Wait>& wait, tcp::socket& socket, bool tls);

  // Streamed request bodies.
  // A request whose route streams its body (RouteOptions::stream_body): reads the body into
  // `body` beside Answer, then stops reading if the answer went out before the body was all
  // read (the connection is then not reused) (server_connection.cc).
  template <typename Stream, typename Parser>
  asio::awaitable<bool> AnswerStreamingBody(Connection<Stream>& conn, ReadBuffer& buffer,
                                            Parser& parser, Request& request, unsigned version,
                                            bool client_keep_alive, MonotonicTime start,
                                            TimerClock::time_point deadline);
  template <typename Stream, typename Parser>
  asio::awaitable<void> PumpBody(Connection<Stream>& conn, ReadBuffer& buffer, Parser& parser,
                                 std::shared_ptr<RequestBodyStream> body,
                                 std::shared_ptr<Wait> wait, TimerClock::time_point deadline);

  // Deferred answers (server_wait.cc).
  // Waits for response.deferred (no worker thread held) and replaces the response with the
  // final answer. Returns false when the client went away meanwhile (nothing to send).
  template <typename Stream>
  asio::awaitable<bool> AwaitDeferred(Connection<Stream>& conn, Response& response);
  // Runs deferred.resume(woken) on the worker pool, or here on the I/O thread when it is quick.
  asio::awaitable<std::optional<Response>> Resume(const Deferred& deferred, bool woken);
  // Ends every wait at once (shutdown), or detaches them from this server (destruction).
  void EndWaits();
  void DetachWaits();

  // Streamed bodies (server_stream.cc).
  // How a streamed body is framed on the wire.
  enum class Framing {
    kChunked,     // HTTP/1.1: chunked, the connection may be reused after the last chunk
    kUntilClose,  // HTTP/1.0: the bytes as they are, the end of the body closes the connection
    kNone,        // no body may be sent (HEAD, 204, 304): the bytes are discarded
  };
  // Sends `header` (the serialized response header) and then `body` as its producer writes it,
  // waiting for it on the connection's strand without a worker thread. Returns whether the body
  // was finished and all of it sent. The stream is abandoned if it was not finished.
  template <typename Stream>
  asio::awaitable<bool> WriteStream(Connection<Stream>& conn, std::string header,
                                    std::shared_ptr<BodyStream> body, Framing framing);
  // Abandons every streamed body (the shutdown's grace ran out), or stops listening to them
  // (destruction).
  void EndStreams();
  void DetachStreams();

  // Lifecycle (server.cc).
  void BeginShutdown();  // on control_
  void StopLocked() COFFER_REQUIRES(mu_);
  void InstallSignalHandlers();
  void WaitForSignal();  // on control_
  void RunIoThread(asio::io_context& context);
  // One io_context for each I/O thread (`io_threads`, 0: one per core), and what keeps each
  // running while it has nothing to do.
  using Contexts = std::vector<std::unique_ptr<asio::io_context>>;
  using KeepRunningGuards = std::vector<asio::executor_work_guard<asio::io_context::executor_type>>;
  static Contexts MakeContexts(int io_threads);
  static KeepRunningGuards KeepRunning(const Contexts& contexts);
  // The io_context a new connection is served on: each in turn (on control_).
  asio::io_context& NextContext();

  const ServerOptions options_;
  const MonotonicClock& clock_;
  Random& random_;
  const Router router_;  // a copy, so the caller's router need not outlive the server
  const RequestObserver observer_;

  const size_t max_connections_;

  struct Registered {
    std::weak_ptr<ConnectionBase> conn;
    std::string address;   // the peer's
    bool evicted = false;  // being closed to make room
  };
  mutable Mutex mu_;
  // By id, the order of acceptance.
  std::map<uint64_t, Registered> connections_ COFFER_GUARDED_BY(mu_);
  std::unordered_map<std::string, size_t> per_address_ COFFER_GUARDED_BY(mu_);
  uint64_t next_connection_id_ COFFER_GUARDED_BY(mu_) = 0;
  bool stopped_ COFFER_GUARDED_BY(mu_) = false;
  std::shared_ptr<ssl::context> tls_context_ COFFER_GUARDED_BY(mu_);  // for new connections
  std::atomic<size_t> active_connections_{0};
  std::atomic<uint64_t> refused_connections_{0};
  std::atomic<uint64_t> evicted_connections_{0};
  InFlight before_send_in_flight_;  // before_send continuations not yet called
  std::atomic<size_t> waiting_requests_{0};
  // Requests waiting for a deferred answer, by a number of their own.
  std::map<uint64_t, std::shared_ptr<Wait>> waits_ COFFER_GUARDED_BY(mu_);
  uint64_t next_wait_id_ COFFER_GUARDED_BY(mu_) = 0;
  // Bodies being streamed, by a number of their own.
  struct Streaming {
    std::shared_ptr<Wait> wait;
    std::shared_ptr<BodyStream> body;
  };
  std::map<uint64_t, Streaming> streams_ COFFER_GUARDED_BY(mu_);
  uint64_t next_stream_id_ COFFER_GUARDED_BY(mu_) = 0;

  std::atomic<bool> draining_{false};
  std::atomic<bool> run_called_{false};
  uint16_t port_ = 0;

  // Each I/O thread runs an io_context of its own, and a connection stays on the one it was
  // accepted onto: its reads, writes, timers and resumed handlers never wait for another thread
  // to pick them up. (One io_context shared by every thread hands events between threads; each
  // hand-off costs a wake-up, which on a quiet server is most of the time a request takes.)
  Contexts contexts_;
  KeepRunningGuards keep_running_;
  size_t next_context_ = 0;  // on control_
  // Handlers run here, never on the I/O threads. Destroyed before the io_contexts: its queued
  // work refers to them.
  asio::thread_pool workers_;
  // Serializes the acceptor, the signal set and the grace timer (on the first io_context).
  asio::strand<asio::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer grace_timer_;
};

}  // namespace coffer::http::server_internal
