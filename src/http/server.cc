// HttpServer on Boost.Beast/Asio with C++20 coroutines: accepts on the I/O threads, parses with
// size limits and deadlines, routes, runs handlers on a separate worker pool, writes responses
// with fixed security headers, and drains gracefully. The only translation unit that sees Beast.
#include "http/server.h"

#include <cxxabi.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/span.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/in_flight.h"
#include "common/non_blocking.h"
#include "common/regular_file.h"
#include "common/secret_buffer.h"
#include "http/problem_json.h"
#include "http/request_target.h"
#include "http/tls_key_file.h"

namespace coffer::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

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

using WipingBody = bhttp::basic_string_body<char, std::char_traits<char>, WipingAllocator<char>>;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ToLowerAscii(a) == ToLowerAscii(b);
}

// Whether a Transfer-Encoding value (all its fields joined with ", ") names exactly one transfer
// coding, "chunked", in any case, with optional whitespace around it. Empty list elements are
// ignored (RFC 9110 §5.6.1).
bool IsChunkedAlone(std::string_view codings) {
  int chunked = 0;
  while (!codings.empty()) {
    const size_t comma = codings.find(',');
    std::string_view element = codings.substr(0, comma);
    codings = comma == std::string_view::npos ? std::string_view() : codings.substr(comma + 1);
    const size_t first = element.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
      continue;
    }
    element = element.substr(first, element.find_last_not_of(" \t") - first + 1);
    if (!EqualsIgnoreCase(element, "chunked")) {
      return false;
    }
    ++chunked;
  }
  return chunked == 1;
}

// Beast's request parser held to the framing rules of RFC 9112 §6, so that Coffer and any proxy
// in front of it cannot disagree on where a request ends (request smuggling):
// - Transfer-Encoding must be exactly "chunked": a coding list not ending in chunked would be
//   read by Beast as a request without a body, and the body's bytes as the next request; other
//   codings are not implemented; chunked twice is malformed.
// - Transfer-Encoding never comes with Content-Length, nor in an HTTP/1.0 request.
// - The fields of a chunked trailer are dropped: Beast would add them to the header fields,
//   where Authorization, Content-Type or X-Forwarded-For would act as request headers.
// A refused header fails the read with bhttp::error::bad_transfer_encoding; framing_error()
// says why, for the problem's detail.
class RequestParser final : public bhttp::request_parser<WipingBody, WipingAllocator<char>> {
 public:
  std::string_view framing_error() const { return framing_error_; }

 private:
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    ec = {};
    if (is_header_done()) {
      return;  // a trailer field
    }
    if (name == bhttp::field::transfer_encoding) {
      if (!transfer_encoding_.empty()) {
        transfer_encoding_ += ", ";
      }
      transfer_encoding_.append(value.data(), value.size());
      has_transfer_encoding_ = true;
    } else if (name == bhttp::field::content_length) {
      has_content_length_ = true;
    }
    get().insert(name, name_string, value);
  }

  void on_header_impl(beast::error_code& ec) override {
    ec = {};
    if (!has_transfer_encoding_) {
      return;
    }
    if (get().version() < 11) {
      framing_error_ = "Transfer-Encoding is not allowed in an HTTP/1.0 request";
    } else if (has_content_length_) {
      framing_error_ = "a request must not have both Transfer-Encoding and Content-Length";
    } else if (!IsChunkedAlone(transfer_encoding_) || !chunked()) {
      framing_error_ =
          "Transfer-Encoding must be \"chunked\" (no other transfer coding is supported)";
    } else {
      return;
    }
    ec = bhttp::error::bad_transfer_encoding;
  }

  std::string transfer_encoding_;  // every Transfer-Encoding field of the header, joined
  bool has_transfer_encoding_ = false;
  bool has_content_length_ = false;
  std::string framing_error_;
};
using ReadBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;
// The body points into Response::body, so a sensitive body is never copied before it is wiped.
using WireResponse = bhttp::response<bhttp::span_body<const char>>;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kFirstReadBytes = 4096;
// After an error response, unread input is drained for a moment so the client sees the response
// instead of a connection reset.
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr size_t kMaxLingerBytes = 8 << 20;
constexpr size_t kMaxRequestIdLength = 64;
constexpr size_t kMaxMethodInDetail = 16;

// TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only (TLS 1.3 suites are all of that kind
// and keep OpenSSL's defaults).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};
// Open files kept free of connections (for the store, logs, the accept itself): an eighth of the
// limit, within these bounds.
constexpr size_t kMinReservedFiles = 64;
constexpr size_t kMaxReservedFiles = 1024;
// After a failed accept (out of descriptors or similar), before the next one.
constexpr std::chrono::milliseconds kAcceptBackoff{50};
constexpr std::chrono::milliseconds kAcceptBackoffAfterEviction{5};
// To make room, the connection idle the longest among the first this many idle ones, in order of
// acceptance, is closed: exact for a few idle connections and, like a sampled LRU, a bounded cost
// per admission under a flood of them (the oldest connections are looked at first).
constexpr size_t kEvictionCandidates = 16;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What graceful shutdown and the connection limit need of a connection, whatever its stream.
struct ConnectionBase {
  virtual ~ConnectionBase() = default;
  // Closes the connection if it is waiting for a request (on its own strand).
  virtual void CloseIfIdle() = 0;
  // Waiting for a request (or, with TLS, for the handshake) since idle_since: nothing would be
  // lost by closing. Written only on the connection's strand; read there and by the accept loop.
  void SetIdle(bool now_idle) {
    idle_since.store(now_idle ? SteadyClock::now().time_since_epoch().count() : kBusy);
  }
  bool idle() const { return idle_since.load() != kBusy; }
  static constexpr SteadyClock::rep kBusy = -1;
  std::atomic<SteadyClock::rep> idle_since{kBusy};
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
size_t ConnectionLimit(size_t configured) {
  size_t files = std::numeric_limits<size_t>::max();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    files = static_cast<size_t>(limit.rlim_cur);
  }
  const size_t reserve = std::clamp(files / 8, kMinReservedFiles, kMaxReservedFiles);
  const size_t by_files = files > reserve + 1 ? files - reserve : 1;
  return configured == 0 ? by_files : std::min(configured, by_files);
}

// A server TLS context from PEM files. Errors name the file at fault, never its content; a key
// file other users could read or change is refused.
StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                       const std::string& key_file) {
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                         ssl::context::single_dh_use | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
    SSL_CTX* handle = context->native_handle();
    SSL_CTX_set_min_proto_version(handle, TLS1_2_VERSION);
    SSL_CTX_set_options(handle, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(handle, kTls12Ciphers) != 1) {
      return Err(InternalError("the TLS cipher list was refused by OpenSSL"));
    }
    // OpenSSL opens the certificate by name: a FIFO would stall it, and the server, for good.
    // (The key is read through ReadTlsPrivateKey, which refuses one itself.)
    RETURN_IF_ERROR(CheckRegularFile(cert_file, "TLS certificate"));
    beast::error_code ec;
    context->use_certificate_chain_file(cert_file, ec);
    if (ec) {
      return Err(InvalidArgumentError("cannot load the TLS certificate chain from " + cert_file +
                                      ": " + ec.message()));
    }
    // Read through a descriptor whose owner and mode were checked (http/tls_key_file.h).
    auto key_pem = ReadTlsPrivateKey(key_file);
    if (!key_pem.has_value()) return Err(InvalidArgumentError(key_pem.error().message()));
    context->use_private_key(asio::buffer(key_pem->data(), key_pem->size()), ssl::context::pem, ec);
    if (ec) {
      return Err(InvalidArgumentError("cannot load the TLS private key from " + key_file + ": " +
                                      ec.message()));
    }
    if (SSL_CTX_check_private_key(handle) != 1) {
      return Err(InvalidArgumentError("the TLS private key in " + key_file +
                                      " does not match the certificate in " + cert_file));
    }
    return context;
  } catch (const std::exception& e) {
    return Err(InternalError(std::string("cannot set up TLS: ") + e.what()));
  }
}

std::string PeerIp(const tcp::socket& socket) {
  beast::error_code ec;
  tcp::endpoint ep = socket.remote_endpoint(ec);
  if (ec) {
    return "";
  }
  asio::ip::address addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  }
  try {
    return addr.to_string();
  } catch (const std::exception&) {
    return "";
  }
}

// Closes a socket refused at once: a reset, so neither side keeps it in TIME_WAIT.
void Refuse(tcp::socket& socket) {
  beast::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

bool IsRequestIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsWellFormedRequestId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), IsRequestIdChar);
}

std::string NewRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Request ids only correlate logs; a clock-derived id is an acceptable fallback.
    const uint64_t t = static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
    std::memcpy(bytes.data(), &t, bytes.size());
  }
  std::string id;
  id.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

// Replaces `response`, wiping its body first if it holds a secret, so that never lingers unsent.
void ReplaceResponse(Response& response, Response replacement) {
  if (response.sensitive) {
    SecureWipe(response.body);
  }
  response = std::move(replacement);
}

// Header text a handler supplies must not be able to split the response.
bool IsSafeHeaderText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Framing is the server's job; a handler cannot override these.
bool IsServerOwnedHeader(std::string_view name) {
  for (std::string_view owned :
       {"content-length", "transfer-encoding", "connection", "keep-alive", "x-request-id"}) {
    if (EqualsIgnoreCase(name, owned)) {
      return true;
    }
  }
  return false;
}

// Bodies carry secret values and these headers carry credentials; what stays (method, target,
// other headers) is what the request observer may log.
void WipeRequest(Request& request) {
  SecureWipe(request.body);
  for (auto& [name, value] : request.headers) {
    if (name == "authorization" || name == "proxy-authorization" || name == "cookie") {
      SecureWipe(value);
    }
  }
}

// "std::runtime_error" for typeid(std::runtime_error).
std::string DemangledTypeName(const std::type_info& type) {
  int status = 0;
  char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name != nullptr ? name : type.name();
  std::free(name);
  return out;
}

Response InternalErrorProblem(std::string cause) {
  return ProblemFromStatus(InternalError(std::move(cause)));
}

Response BadRequestProblem(std::string_view detail) {
  return Problem(400, "bad-request", "Bad request", detail);
}

// The response for a failed read, or nullopt when the connection should just be closed (the
// peer went away, timed out, or sent half a request and stopped).
std::optional<Response> ProblemForReadError(const beast::error_code& ec,
                                            const RequestParser& parser,
                                            const ServerOptions& options) {
  if (!parser.framing_error().empty()) {
    return BadRequestProblem(parser.framing_error());
  }
  // Beast's own checks: chunked twice, Transfer-Encoding after Content-Length or the reverse.
  if (ec == bhttp::error::bad_transfer_encoding) {
    return BadRequestProblem(
        "Transfer-Encoding must be \"chunked\", once, and not with Content-Length");
  }
  if (ec == bhttp::error::bad_content_length || ec == bhttp::error::multiple_content_length) {
    return BadRequestProblem(
        "Content-Length must be one decimal number, and not with Transfer-Encoding");
  }
  if (ec == bhttp::error::header_limit) {
    return Problem(
        431, "header-too-large", "Request header fields too large",
        "request header exceeds the " + std::to_string(options.max_header_bytes) + "-byte limit");
  }
  if (ec == bhttp::error::body_limit) {
    return Problem(
        413, "payload-too-large", "Payload too large",
        "request body exceeds the " + std::to_string(options.max_body_bytes) + "-byte limit");
  }
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  if (ec.category() == beast::error_code(bhttp::error::bad_method).category()) {
    return BadRequestProblem("malformed HTTP request");
  }
  return std::nullopt;
}

// Resumes the coroutine whose completion handler is `handler` with `status`, on the handler's
// own executor (the connection's strand). The handler is moved into the posted operation and the
// executor copy dies before this returns, so afterwards the caller holds nothing bound to the
// io_context: that operation is the only owner, run by the io_context or destroyed with it
// (while its strand service still exists). Thread-safe.
template <typename Handler>
void PostResume(Handler& handler, Status status) {
  auto executor = asio::get_associated_executor(handler);
  asio::post(executor, [resume = std::move(handler), status = std::move(status)]() mutable {
    std::move(resume)(std::move(status));
  });
}

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(const ServerOptions& options, const Router& router, RequestObserver observer)
      : options_(options),
        router_(router),
        observer_(std::move(observer)),
        max_connections_(ConnectionLimit(options.max_connections)),
        workers_(static_cast<size_t>(std::max(1, options.worker_threads))),
        control_(asio::make_strand(ioc_)),
        acceptor_(control_),
        signals_(control_),
        grace_timer_(control_) {}

  ~BeastHttpServer() override {
    // A before_send continuation still to come posts to ioc_: it must find it alive. One that
    // has been called holds nothing of ioc_ any more (PostResume), however long its caller
    // keeps it.
    before_send_in_flight_.WaitForNone();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;  // connection frames destroyed below must not touch ioc_ any more
    }
    ioc_.stop();
    workers_.stop();
    workers_.join();
    // Members go in reverse order: the worker pool before ioc_ (its queued work refers to ioc_),
    // ioc_ (and the connection frames it owns) before mu_ and connections_.
  }

  Status Bind();
  Status LoadTls();

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

 private:
  asio::awaitable<void> AcceptLoop();
  void StartConnection(tcp::socket socket);
  // Makes room for one more connection if the limits allow it: the peer's address is under
  // its limit and, at the total limit, an idle connection is closed for it. On success the
  // connection is registered under a new id. REQUIRES: mu_ held.
  std::optional<uint64_t> AdmitLocked(const std::string& address,
                                      std::shared_ptr<ConnectionBase>& evict);
  // The connection waiting for a request the longest, not already being closed for room; null
  // if none. REQUIRES: mu_ held.
  std::shared_ptr<ConnectionBase> OldestIdleLocked();
  template <typename Stream>
  asio::awaitable<void> Serve(std::shared_ptr<Connection<Stream>> conn, uint64_t id,
                              std::string peer_ip);
  // Reads, handles and answers one request. Returns whether the connection may be reused.
  // `header_deadline`, for a connection's first request, bounds the wait for its header.
  template <typename Stream>
  asio::awaitable<bool> ServeOne(Connection<Stream>& conn, ReadBuffer& buffer,
                                 const std::string& peer_ip,
                                 std::optional<SteadyClock::time_point> header_deadline);
  // Routes the request and runs its handler on the worker pool, filling `response` in place.
  asio::awaitable<void> Dispatch(const Request& request, std::string& route_template,
                                 Response& response);
  // Runs response.before_send and resumes on the connection's strand when its continuation is
  // called; a non-OK outcome replaces the response with its problem.
  asio::awaitable<void> AwaitBeforeSend(Response& response);
  template <typename Stream>
  asio::awaitable<bool> Write(Connection<Stream>& conn, const Response& response, unsigned version,
                              bool keep_alive, const std::string& request_id);
  template <typename Stream>
  asio::awaitable<void> LingerAndClose(Connection<Stream>& conn);
  void Observe(const Request& request, std::string_view route_template, int status,
               SteadyClock::time_point start, std::string_view actor_id = {},
               std::string_view internal_cause = {});
  void BeginShutdown();  // on control_
  void StopLocked();     // REQUIRES: mu_ held
  void Deregister(uint64_t id);
  void InstallSignalHandlers();
  void WaitForSignal();  // on control_
  void RunIoThread();

  const ServerOptions options_;
  const Router router_;  // a copy, so the caller's router need not outlive the server
  const RequestObserver observer_;

  const size_t max_connections_;

  struct Registered {
    std::weak_ptr<ConnectionBase> conn;
    std::string address;   // the peer's
    bool evicted = false;  // being closed to make room
  };
  mutable std::mutex mu_;
  // By id, the order of acceptance.
  std::map<uint64_t, Registered> connections_;           // guarded by mu_
  std::unordered_map<std::string, size_t> per_address_;  // guarded by mu_
  uint64_t next_connection_id_ = 0;                      // guarded by mu_
  bool stopped_ = false;                                 // guarded by mu_
  std::shared_ptr<ssl::context> tls_context_;            // for new connections; guarded by mu_
  std::atomic<size_t> active_connections_{0};
  std::atomic<uint64_t> refused_connections_{0};
  std::atomic<uint64_t> evicted_connections_{0};
  InFlight before_send_in_flight_;  // before_send continuations not yet called

  std::atomic<bool> draining_{false};
  std::atomic<bool> run_called_{false};
  uint16_t port_ = 0;

  asio::io_context ioc_;
  asio::thread_pool workers_;  // handlers run here, never on the I/O threads
  // Serializes the acceptor, the signal set and the grace timer.
  asio::strand<asio::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer grace_timer_;
};

Status BeastHttpServer::Bind() {
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  if (ec) {
    return UnavailableError("cannot resolve " + where + ": " + ec.message());
  }
  for (const auto& entry : endpoints) {
    const tcp::endpoint ep = entry.endpoint();
    acceptor_.close(ec);
    acceptor_.open(ep.protocol(), ec);
    if (ec) {
      continue;
    }
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) {
      continue;
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      continue;
    }
    port_ = acceptor_.local_endpoint(ec).port();
    if (!ec) {
      InstallSignalHandlers();
      return OkStatus();
    }
  }
  beast::error_code ignored;
  acceptor_.close(ignored);
  return UnavailableError("cannot listen on " + where + ": " +
                          (ec ? ec.message() : std::string("no address")));
}

Status BeastHttpServer::LoadTls() {
  if (!tls()) {
    return OkStatus();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> context,
                   MakeTlsContext(options_.tls_cert_file, options_.tls_key_file));
  std::lock_guard<std::mutex> lock(mu_);
  tls_context_ = std::move(context);
  return OkStatus();
}

Status BeastHttpServer::ReloadTls() {
  if (!tls()) {
    return FailedPreconditionError("the server does not use TLS");
  }
  return LoadTls();
}

Status BeastHttpServer::Run() {
  if (run_called_.exchange(true)) {
    return FailedPreconditionError("HttpServer::Run called twice");
  }
  asio::co_spawn(control_, AcceptLoop(), [](std::exception_ptr) {});

  int io_threads = options_.io_threads;
  if (io_threads <= 0) {
    io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < io_threads; ++i) {
    try {
      threads.emplace_back([this] { RunIoThread(); });
    } catch (const std::exception&) {
      break;  // fewer threads still serve
    }
  }
  RunIoThread();
  for (std::thread& t : threads) {
    t.join();
  }
  // Handlers still running (only possible after shutdown_grace ran out) finish; queued ones
  // are dropped.
  workers_.stop();
  workers_.join();
  return OkStatus();
}

void BeastHttpServer::InstallSignalHandlers() {
  if (!options_.handle_signals) {
    return;
  }
  // Installed before Run() so a signal that arrives while the caller is still starting up is
  // not fatal; it is acted on once Run() starts.
  beast::error_code ec;
  signals_.add(SIGINT, ec);
  signals_.add(SIGTERM, ec);
  // SIGHUP reloads the certificate; without TLS it is ignored rather than fatal.
  signals_.add(SIGHUP, ec);
  WaitForSignal();
}

void BeastHttpServer::WaitForSignal() {
  signals_.async_wait([this](const beast::error_code& error, int signal_number) {
    if (error) {
      return;
    }
    if (signal_number != SIGHUP) {
      BeginShutdown();
      return;
    }
    if (tls()) {
      Status reloaded = ReloadTls();
      if (options_.on_tls_reload) {
        try {
          options_.on_tls_reload(reloaded);
        } catch (...) {
          // Reporting must not stop the server.
        }
      }
    }
    WaitForSignal();
  });
}

void BeastHttpServer::RunIoThread() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (...) {
      // A completion handler threw; the failing connection is gone, the rest keep running.
    }
  }
}

void BeastHttpServer::Shutdown() {
  asio::post(control_, [this] { BeginShutdown(); });
}

void BeastHttpServer::BeginShutdown() {
  if (draining_.exchange(true)) {
    return;
  }
  beast::error_code ec;
  acceptor_.close(ec);
  signals_.cancel(ec);
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, registered] : connections_) {
      if (auto conn = registered.conn.lock()) {
        live.push_back(std::move(conn));
      }
    }
    if (connections_.empty()) {
      StopLocked();
      return;
    }
  }
  // A connection that is not idle here is reading or handling a request; it sees draining_
  // before it would wait for another one, and answers with "Connection: close".
  for (auto& conn : live) {
    conn->CloseIfIdle();
  }
  grace_timer_.expires_after(options_.shutdown_grace);
  grace_timer_.async_wait([this](const beast::error_code& error) {
    if (!error) {
      std::lock_guard<std::mutex> lock(mu_);
      StopLocked();
    }
  });
}

void BeastHttpServer::StopLocked() {
  if (!stopped_) {
    stopped_ = true;
    ioc_.stop();
  }
}

void BeastHttpServer::Deregister(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(id);
  if (it != connections_.end()) {
    auto count = per_address_.find(it->second.address);
    if (count != per_address_.end() && --count->second == 0) {
      per_address_.erase(count);
    }
    connections_.erase(it);
    active_connections_.fetch_sub(1);
  }
  if (draining_.load() && connections_.empty()) {
    StopLocked();
  }
}

asio::awaitable<void> BeastHttpServer::AcceptLoop() {
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc_));
    auto [ec] = co_await acceptor_.async_accept(socket, kNoThrow);
    if (draining_.load() || !acceptor_.is_open()) {
      co_return;
    }
    if (ec) {
      // Out of descriptors or similar: back off instead of spinning. Out of descriptors with
      // connections idle, the one idle the longest gives its descriptor to whoever is waiting.
      std::chrono::milliseconds backoff = kAcceptBackoff;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory ||
          ec == boost::system::errc::too_many_files_open_in_system) {
        std::shared_ptr<ConnectionBase> evict;
        {
          std::lock_guard<std::mutex> lock(mu_);
          evict = OldestIdleLocked();
        }
        if (evict) {
          evict->CloseIfIdle();
          backoff = kAcceptBackoffAfterEviction;
        }
      }
      asio::steady_timer timer(control_, backoff);
      co_await timer.async_wait(kNoThrow);
      continue;
    }
    StartConnection(std::move(socket));
  }
}

std::shared_ptr<ConnectionBase> BeastHttpServer::OldestIdleLocked() {
  Registered* oldest = nullptr;
  std::shared_ptr<ConnectionBase> oldest_conn;
  SteadyClock::rep oldest_since = 0;
  size_t candidates = 0;
  for (auto& [id, registered] : connections_) {
    if (registered.evicted) {
      continue;
    }
    std::shared_ptr<ConnectionBase> conn = registered.conn.lock();
    const SteadyClock::rep since =
        conn != nullptr ? conn->idle_since.load() : ConnectionBase::kBusy;
    if (since == ConnectionBase::kBusy) {
      continue;
    }
    if (oldest == nullptr || since < oldest_since) {
      oldest = &registered;
      oldest_conn = std::move(conn);
      oldest_since = since;
    }
    if (++candidates == kEvictionCandidates) {
      break;
    }
  }
  if (oldest != nullptr) {
    oldest->evicted = true;
    evicted_connections_.fetch_add(1);
  }
  return oldest_conn;
}

size_t BeastHttpServer::idle_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t idle = 0;
  for (const auto& [id, registered] : connections_) {
    std::shared_ptr<ConnectionBase> conn = registered.conn.lock();
    idle += conn != nullptr && conn->idle() && !registered.evicted ? 1 : 0;
  }
  return idle;
}

std::optional<uint64_t> BeastHttpServer::AdmitLocked(const std::string& address,
                                                     std::shared_ptr<ConnectionBase>& evict) {
  auto count = per_address_.find(address);
  const size_t from_address = count == per_address_.end() ? 0 : count->second;
  if (options_.max_connections_per_address != 0 &&
      from_address >= options_.max_connections_per_address) {
    return std::nullopt;
  }
  if (connections_.size() >= max_connections_) {
    evict = OldestIdleLocked();
    if (evict == nullptr) {
      return std::nullopt;  // every connection is busy with a request
    }
  }
  const uint64_t id = next_connection_id_++;
  connections_.emplace(id, Registered{.conn = {}, .address = address});
  ++per_address_[address];
  active_connections_.fetch_add(1);
  return id;
}

void BeastHttpServer::StartConnection(tcp::socket socket) {
  // The TCP peer: behind a proxy this is the proxy, whatever X-Forwarded-For says later.
  std::string peer_ip = PeerIp(socket);
  if (peer_ip.empty()) {
    Refuse(socket);  // gone already
    return;
  }
  std::optional<uint64_t> id;
  std::shared_ptr<ConnectionBase> evict;
  std::shared_ptr<ssl::context> context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = AdmitLocked(peer_ip, evict);
    context = tls_context_;
  }
  if (!id.has_value()) {
    refused_connections_.fetch_add(1);
    Refuse(socket);
    return;
  }
  if (evict != nullptr) {
    evict->CloseIfIdle();
  }
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto start = [&](auto conn) {
    {
      // Registered by AdmitLocked; nothing else looks at it until Serve runs, and this runs on
      // control_ like every other admission and BeginShutdown.
      std::lock_guard<std::mutex> lock(mu_);
      connections_.at(*id).conn = conn;
    }
    auto executor = conn->stream.get_executor();
    asio::co_spawn(executor, Serve(std::move(conn), *id, std::move(peer_ip)),
                   [](std::exception_ptr) {});
  };
  if (context) {
    start(std::make_shared<Connection<TlsStream>>(std::move(socket), std::move(context)));
  } else {
    start(std::make_shared<Connection<PlainStream>>(std::move(socket), nullptr));
  }
}

template <typename Stream>
asio::awaitable<void> BeastHttpServer::Serve(std::shared_ptr<Connection<Stream>> conn, uint64_t id,
                                             std::string peer_ip) {
  // Runs when the coroutine ends or is destroyed with the io_context.
  struct Registration {
    BeastHttpServer* server;
    uint64_t id;
    ~Registration() { server->Deregister(id); }
  } registration{this, id};

  // A new connection delivers its first request header by this time, TLS handshake included,
  // or is closed.
  const SteadyClock::time_point first_deadline =
      SteadyClock::now() + options_.first_request_timeout;
  ReadBuffer buffer;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    conn->SetIdle(true);  // nothing to lose yet: shutdown or a new client may close it
    conn->lowest().expires_at(first_deadline);
    auto [ec] = co_await conn->stream.async_handshake(ssl::stream_base::server, kNoThrow);
    conn->SetIdle(false);
    if (ec) {
      beast::error_code ignored;
      conn->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      conn->lowest().close();
      co_return;
    }
  }
  for (bool first = true;; first = false) {
    if (draining_.load()) {
      break;
    }
    if (buffer.size() == 0) {
      buffer.shrink_to_fit();  // releases (and so wipes) the previous request's bytes
      conn->SetIdle(true);
      const SteadyClock::time_point idle_deadline = SteadyClock::now() + options_.idle_timeout;
      conn->lowest().expires_at(first ? std::min(first_deadline, idle_deadline) : idle_deadline);
      auto [ec, n] =
          co_await conn->stream.async_read_some(buffer.prepare(kFirstReadBytes), kNoThrow);
      conn->SetIdle(false);
      if (ec) {
        break;
      }
      buffer.commit(n);
    }
    if (!co_await ServeOne(*conn, buffer, peer_ip,
                           first ? std::optional(first_deadline) : std::nullopt)) {
      break;
    }
  }
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    // close_notify, briefly: a peer that is gone or silent must not hold the connection.
    if (conn->lowest().socket().is_open()) {
      conn->lowest().expires_after(kTlsShutdownTimeout);
      co_await conn->stream.async_shutdown(kNoThrow);
    }
  }
  beast::error_code ignored;
  conn->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
  conn->lowest().close();
}

template <typename Stream>
asio::awaitable<bool> BeastHttpServer::ServeOne(
    Connection<Stream>& conn, ReadBuffer& buffer, const std::string& peer_ip,
    std::optional<SteadyClock::time_point> header_deadline) {
  const SteadyClock::time_point start = SteadyClock::now();
  RequestParser parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));

  // One deadline covers the whole request, so a client trickling bytes cannot hold the
  // connection (slowloris); a connection's first header may have less time.
  const SteadyClock::time_point request_deadline = start + options_.read_timeout;
  conn.lowest().expires_at(header_deadline.has_value()
                               ? std::min(*header_deadline, request_deadline)
                               : request_deadline);
  auto [ec, n] = co_await bhttp::async_read_header(conn.stream, buffer, parser, kNoThrow);
  if (!ec && !parser.is_done()) {
    conn.lowest().expires_at(request_deadline);
    const auto& header = parser.get();
    if (header.version() == 11 && EqualsIgnoreCase(header[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, 11};
      std::tie(ec, n) = co_await bhttp::async_write(conn.stream, proceed, kNoThrow);
    }
    if (!ec) {
      std::tie(ec, n) = co_await bhttp::async_read(conn.stream, buffer, parser, kNoThrow);
    }
  }

  Request request;
  request.peer_ip = peer_ip;
  request.before_send_honoured = true;
  {
    // After a header or body limit error this is whatever was parsed before it (the request line
    // and fields, for a body over the limit), which the observer may log.
    const auto& header = parser.get();
    request.method = std::string(header.method_string());
    request.target = std::string(header.target());
    for (const auto& field : header) {
      request.headers.emplace_back(ToLowerAscii(field.name_string()), std::string(field.value()));
    }
  }
  const auto incoming_id = request.Header("x-request-id");
  request.request_id = incoming_id.has_value() && IsWellFormedRequestId(*incoming_id)
                           ? std::string(*incoming_id)
                           : NewRequestId();

  if (ec) {
    std::optional<Response> problem = ProblemForReadError(ec, parser, options_);
    if (problem.has_value()) {
      if (co_await Write(conn, *problem, 11, /*keep_alive=*/false, request.request_id)) {
        co_await LingerAndClose(conn);
      }
      Observe(request, "", problem->status, start);
    }
    WipeRequest(request);
    co_return false;
  }

  const unsigned version = parser.get().version();
  const bool client_keep_alive = parser.get().keep_alive();
  {
    const auto& body = parser.get().body();
    request.body.assign(body.data(), body.size());
  }
  // The parser's copy of headers and body is wiped as soon as it is released.
  parser.release();

  std::string route_template;
  Response response;
  if (std::optional<Response> bad_target = ParseRequestTarget(request.target, request)) {
    response = std::move(*bad_target);
  } else {
    co_await Dispatch(request, route_template, response);
    if (response.before_send) {
      co_await AwaitBeforeSend(response);
    }
  }
  WipeRequest(request);

  const bool keep_alive = client_keep_alive && !draining_.load();
  const bool written = co_await Write(conn, response, version, keep_alive, request.request_id);
  if (response.sensitive) {
    SecureWipe(response.body);
  }
  Observe(request, route_template, response.status, start, response.actor_id,
          response.internal_cause);
  const bool reusable = written && keep_alive;
  co_return reusable;
}

asio::awaitable<void> BeastHttpServer::Dispatch(const Request& request, std::string& route_template,
                                                Response& response) {
  RouteMatch match = router_.Match(request.method, request.segments);
  switch (match.kind) {
    case RouteMatch::Kind::kNotFound:
      response = ProblemFromStatus(
          NotFoundError("no route for " + request.method.substr(0, kMaxMethodInDetail)));
      co_return;
    case RouteMatch::Kind::kMethodNotAllowed:
      response = Problem(
          405, "method-not-allowed", "Method not allowed",
          "method " + request.method.substr(0, kMaxMethodInDetail) + " is not allowed here");
      response.headers.emplace_back("Allow", match.allow);
      co_return;
    case RouteMatch::Kind::kFound:
      break;
  }
  route_template = match.route_template;

  // The store blocks, so handlers run on the worker pool; this coroutine resumes on the
  // connection's strand afterwards. A route marked io_thread is tried here first, on the I/O
  // thread, and goes to the pool only if it would wait. The result is written in place rather
  // than returned so a sensitive body is not moved through intermediate storage.
  const Handler& handler = *match.handler;
  const RouteParams& params = match.params;
  // A handler bug (an exception, whose message may hold anything) becomes a generic 500.
  auto run_handler = [&] {
    try {
      response = handler(request, params);
    } catch (const std::exception& e) {
      // The type only: an exception's message may hold anything, a value included.
      response = InternalErrorProblem("the handler threw " + DemangledTypeName(typeid(e)));
    } catch (...) {
      response = InternalErrorProblem("the handler threw a non-standard exception");
    }
  };
  bool answered = false;
  if (match.options.io_thread && options_.io_thread_routes) {
    NonBlockingScope scope;
    run_handler();
    answered = !scope.refused();
    if (!answered) {
      // It would have waited: that attempt left no trace; run it again where waiting is fine.
      ReplaceResponse(response, Response());
    }
  }
  if (!answered) {
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [&](auto resume) {
          asio::post(workers_, [&, resume = std::move(resume)]() mutable {
            run_handler();
            auto executor = asio::get_associated_executor(resume);
            asio::post(executor, std::move(resume));
          });
        },
        asio::use_awaitable);
  }
  if (response.status < 200 || response.status > 599) {
    ReplaceResponse(response, InternalErrorProblem("the handler answered HTTP status " +
                                                   std::to_string(response.status)));
  }
}

asio::awaitable<void> BeastHttpServer::AwaitBeforeSend(Response& response) {
  const std::function<void(std::function<void(Status)>)> before_send =
      std::move(response.before_send);
  response.before_send = nullptr;
  Status outcome = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Status)>(
      [this, &before_send](auto handler) {
        before_send_in_flight_.Add();
        // std::function needs a copyable callable; the coroutine's handler is move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        before_send([this, shared](Status s) {
          PostResume(*shared, std::move(s));
          // The last use of the server: it may be destroyed as soon as this returns. Whatever
          // the caller still holds (this continuation, copies of it) holds only the empty shell
          // PostResume left, nothing of the server's io_context.
          before_send_in_flight_.Done();
        });
      },
      asio::use_awaitable);
  if (!outcome.ok()) {
    Response refused = ProblemFromStatus(outcome);
    refused.actor_id = std::move(response.actor_id);
    ReplaceResponse(response, std::move(refused));
  }
}

template <typename Stream>
asio::awaitable<bool> BeastHttpServer::Write(Connection<Stream>& conn, const Response& response,
                                             unsigned version, bool keep_alive,
                                             const std::string& request_id) {
  WireResponse wire;
  wire.version(version == 10 ? 10 : 11);
  wire.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) {
    if (!name.empty() && IsSafeHeaderText(name) && IsSafeHeaderText(value) &&
        !IsServerOwnedHeader(name)) {
      wire.insert(name, value);
    }
  }
  const bool bodyless = response.status == 204 || response.status == 304;
  if (!bodyless && !response.content_type.empty() &&
      wire.find(bhttp::field::content_type) == wire.end()) {
    wire.set(bhttp::field::content_type, response.content_type);
  }
  if (wire.find(bhttp::field::cache_control) == wire.end()) {
    wire.set(bhttp::field::cache_control, "no-store");
  }
  wire.set("X-Content-Type-Options", "nosniff");
  wire.set(bhttp::field::server, "coffer");
  wire.set("X-Request-Id", request_id);
  wire.keep_alive(keep_alive);
  if (!bodyless) {
    wire.body() = beast::span<const char>(response.body.data(), response.body.size());
    wire.content_length(response.body.size());
  }
  conn.lowest().expires_after(options_.write_timeout);
  auto [ec, n] = co_await bhttp::async_write(conn.stream, wire, kNoThrow);
  co_return !ec;
}

template <typename Stream>
asio::awaitable<void> BeastHttpServer::LingerAndClose(Connection<Stream>& conn) {
  // Reads (and discards) below TLS: the bytes are thrown away either way.
  beast::error_code ignored;
  conn.lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn.lowest().expires_after(
      std::min<std::chrono::milliseconds>(options_.read_timeout, kMaxLinger));
  std::array<char, 16384> sink;
  size_t total = 0;
  while (total < kMaxLingerBytes) {
    auto [ec, n] = co_await conn.lowest().async_read_some(asio::buffer(sink), kNoThrow);
    if (ec) {
      break;
    }
    total += n;
  }
  SecureWipe(sink.data(), sink.size());  // the discarded bytes may be part of a secret
}

void BeastHttpServer::Observe(const Request& request, std::string_view route_template, int status,
                              SteadyClock::time_point start, std::string_view actor_id,
                              std::string_view internal_cause) {
  if (!observer_) {
    return;
  }
  RequestLogEntry entry{
      &request, route_template,
      status,   std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start),
      actor_id, internal_cause};
  try {
    observer_(entry);
  } catch (...) {
    // Logging must never take a connection down.
  }
}

}  // namespace

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const ServerOptions& options,
                                                         const Router& router,
                                                         RequestObserver observer) {
  try {
    auto server = std::make_unique<BeastHttpServer>(options, router, std::move(observer));
    RETURN_IF_ERROR(server->LoadTls());
    RETURN_IF_ERROR(server->Bind());
    return std::unique_ptr<HttpServer>(std::move(server));
  } catch (const std::exception& e) {
    // Asio reports resource exhaustion (no threads, no descriptors) by throwing.
    return Err(UnavailableError(std::string("cannot start HTTP server: ") + e.what()));
  }
}

}  // namespace coffer::http
