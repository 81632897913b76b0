// The connection coroutine: TLS handshake, reading each request within its deadlines under strict
// framing rules, answering with the server's own headers, keep-alive and idle timeouts, and the
// linger that lets a refused client see its error response.
#include <algorithm>
#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/span.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "common/secret_buffer.h"
#include "http/problem_json.h"
#include "http/request_target.h"
#include "http/server_internal.h"

namespace coffer::http::server_internal {

namespace {

namespace bhttp = boost::beast::http;
using namespace boost::asio::experimental::awaitable_operators;  // NOLINT: operator&& of awaitables

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

// The body points into Response::body, so a sensitive body is never copied before it is wiped.
using WireResponse = bhttp::response<bhttp::span_body<const char>>;

constexpr size_t kFirstReadBytes = 4096;
// The most bytes of a streamed request body read ahead of its consumer.
constexpr size_t kStreamedBodyBuffer = 256 * 1024;
// A body declared (Content-Length) at most this long is read whole before the handler runs, on
// a route that streams its body too.
constexpr size_t kWholeBodyBytes = 64 * 1024;
// After an error response, unread input is drained for a moment so the client sees the response
// instead of a connection reset.
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr size_t kMaxLingerBytes = 8 << 20;
constexpr size_t kMaxRequestIdLength = 64;
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};
// Logged (never sent) for a request whose client closed the connection before its answer.
constexpr int kClientClosedRequest = 499;

bool IsRequestIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsWellFormedRequestId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), IsRequestIdChar);
}

// 16 hex digits from `random`.
std::string NewRequestId(Random& random, const MonotonicClock& clock) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<uint8_t, 8> bytes{};
  if (!random.Fill(bytes).ok()) {
    // Request ids only correlate logs; a clock-derived id is an acceptable fallback.
    const uint64_t t = static_cast<uint64_t>(clock.Now().time_since_epoch().count());
    std::memcpy(bytes.data(), &t, bytes.size());
  }
  std::string id;
  id.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
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
    if (name == "authorization" || name == "proxy-authorization" || name == "cookie" ||
        name == "x-csrf-token") {
      SecureWipe(value);
    }
  }
}

// 204 and 304 never have a body.
bool IsBodyless(int status) { return status == 204 || status == 304; }

// The status line and header fields of `response`: the handler's headers that are safe, then
// the server's own.
template <typename Body>
void SetHeader(bhttp::response<Body>& wire, const Response& response, unsigned version,
               bool keep_alive, const std::string& request_id) {
  wire.version(version == 10 ? 10 : 11);
  wire.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) {
    if (!name.empty() && IsSafeHeaderText(name) && IsSafeHeaderText(value) &&
        !IsServerOwnedHeader(name)) {
      wire.insert(name, value);
    }
  }
  if (!IsBodyless(response.status) && !response.content_type.empty() &&
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
}

// The serialized header of a streamed response.
std::string StreamHeader(const Response& response, unsigned version, bool keep_alive,
                         const std::string& request_id, bool chunked) {
  bhttp::response<bhttp::empty_body> wire;
  SetHeader(wire, response, version, keep_alive, request_id);
  if (chunked) {
    wire.chunked(true);
  }
  std::ostringstream out;
  out << wire.base();
  return std::move(out).str();
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

}  // namespace

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
  const TimerClock::time_point first_deadline = TimerClock::now() + options_.first_request_timeout;
  ReadBuffer buffer;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    conn->SetIdle(true, clock_);  // nothing to lose yet: shutdown or a new client may close it
    conn->lowest().expires_at(first_deadline);
    auto [ec] = co_await conn->stream.async_handshake(ssl::stream_base::server, kNoThrow);
    conn->SetIdle(false, clock_);
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
      conn->SetIdle(true, clock_);
      const TimerClock::time_point idle_deadline = TimerClock::now() + options_.idle_timeout;
      conn->lowest().expires_at(first ? std::min(first_deadline, idle_deadline) : idle_deadline);
      auto [ec, n] =
          co_await conn->stream.async_read_some(buffer.prepare(kFirstReadBytes), kNoThrow);
      conn->SetIdle(false, clock_);
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
    std::optional<TimerClock::time_point> header_deadline) {
  const MonotonicTime start = clock_.Now();
  RequestParser parser;
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(options_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));

  // One deadline covers the whole request, so a client trickling bytes cannot hold the
  // connection (slowloris); a connection's first header may have less time.
  const TimerClock::time_point request_deadline = TimerClock::now() + options_.read_timeout;
  conn.lowest().expires_at(header_deadline.has_value()
                               ? std::min(*header_deadline, request_deadline)
                               : request_deadline);
  auto [ec, n] = co_await bhttp::async_read_header(conn.stream, buffer, parser, kNoThrow);
  // Whether the request's route reads its body as it arrives (RouteOptions::stream_body).
  const auto streams_body = [this](const RequestParser& p) {
    Request probe;
    if (ParseRequestTarget(std::string(p.get().target()), probe).has_value()) {
      return false;  // answered as a bad target, after the body was read
    }
    const RouteMatch match = router_.Match(std::string(p.get().method_string()), probe.segments);
    return match.kind == RouteMatch::Kind::kFound && match.options.stream_body;
  };
  if (!ec && !parser.is_done()) {
    conn.lowest().expires_at(request_deadline);
    const auto& header = parser.get();
    if (header.version() == 11 && EqualsIgnoreCase(header[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, 11};
      std::tie(ec, n) = co_await bhttp::async_write(conn.stream, proceed, kNoThrow);
    }
    // A body of a known, small size is read whole even for a route that streams its body: it
    // is all in flight at once, and the handler then has it in one piece.
    const auto length = parser.content_length();
    const bool small = length.has_value() && !parser.chunked() && *length <= kWholeBodyBytes;
    if (!ec && (small || !streams_body(parser))) {
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
                           : NewRequestId(random_, clock_);

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
  if (!parser.is_done()) {  // a route that streams its body: read beside the answer
    co_return co_await AnswerStreamingBody(conn, buffer, parser, request, version,
                                           client_keep_alive, start, request_deadline);
  }
  {
    const auto& body = parser.get().body();
    request.body.assign(body.data(), body.size());
  }
  // The parser's copy of headers and body is wiped as soon as it is released.
  parser.release();
  co_return co_await Answer(conn, request, version, client_keep_alive, start);
}

template <typename Stream>
asio::awaitable<bool> BeastHttpServer::Answer(Connection<Stream>& conn, Request& request,
                                              unsigned version, bool client_keep_alive,
                                              MonotonicTime start) {
  std::string route_template;
  Response response;
  // A streamed body not sent (this frame destroyed with the server, say) is abandoned; once sent,
  // or abandoned already, this does nothing.
  struct AbandonUnsent {
    Response& response;
    ~AbandonUnsent() {
      if (response.stream) {
        response.stream->Abandon();
      }
    }
  } abandon_unsent{response};
  if (std::optional<Response> bad_target = ParseRequestTarget(request.target, request)) {
    response = std::move(*bad_target);
  } else {
    co_await Dispatch(request, route_template, response);
    if (response.deferred && !co_await AwaitDeferred(conn, response)) {
      // The client went away while its request waited: nothing to send.
      WipeRequest(request);
      Observe(request, route_template, kClientClosedRequest, start, response.actor_id);
      co_return false;
    }
    if (response.before_send) {
      co_await AwaitBeforeSend(response);
    }
  }
  WipeRequest(request);

  bool keep_alive = client_keep_alive && !draining_.load();
  bool written = false;
  if (response.stream) {
    Framing framing = Framing::kChunked;
    if (IsBodyless(response.status) || request.method == "HEAD") {
      framing = Framing::kNone;
    } else if (version == 10) {
      framing = Framing::kUntilClose;
      keep_alive = false;
    }
    written = co_await WriteStream(conn,
                                   StreamHeader(response, version, keep_alive, request.request_id,
                                                framing == Framing::kChunked),
                                   response.stream, framing);
  } else {
    written = co_await Write(conn, response, version, keep_alive, request.request_id,
                             request.method == "HEAD");
  }
  if (response.sensitive) {
    SecureWipe(response.body);
  }
  Observe(request, route_template, response.status, start, response.actor_id,
          response.internal_cause);
  const bool reusable = written && keep_alive;
  co_return reusable;
}

template <typename Stream, typename Parser>
asio::awaitable<bool> BeastHttpServer::AnswerStreamingBody(Connection<Stream>& conn,
                                                           ReadBuffer& buffer, Parser& parser,
                                                           Request& request, unsigned version,
                                                           bool client_keep_alive,
                                                           MonotonicTime start,
                                                           TimerClock::time_point deadline) {
  std::optional<uint64_t> length;
  if (const auto declared = parser.content_length(); declared && !parser.chunked()) {
    length = *declared;
  }
  auto body = std::make_shared<RequestBodyStream>(kStreamedBodyBuffer, length);
  request.body_stream = body;
  auto pump = std::make_shared<Wait>(conn.stream.get_executor());
  conn.reading_body = true;
  // The answer and the body's reading run side by side on the connection's strand.
  const auto answer = [&]() -> asio::awaitable<bool> {
    const bool reusable = co_await Answer(conn, request, version, client_keep_alive, start);
    if (!pump->done) {  // answered before the body was all read: stop reading it
      pump->ending = true;
      beast::error_code ignored;
      conn.lowest().socket().cancel(ignored);
      pump->timer.cancel();
    }
    co_return reusable;
  };
  const bool reusable = co_await (PumpBody(conn, buffer, parser, body, pump, deadline) && answer());
  request.body_stream.reset();
  body->Abandon();  // wipes what no one took
  parser.release();
  if (pump->gone && conn.lowest().socket().is_open()) {
    // The rest of the body is not read: drain it for a moment so that the client, still
    // sending, sees the answer rather than a reset.
    co_await LingerAndClose(conn);
  }
  co_return reusable && !pump->gone;
}

template <typename Stream, typename Parser>
asio::awaitable<void> BeastHttpServer::PumpBody(Connection<Stream>& conn, ReadBuffer& buffer,
                                                Parser& parser,
                                                std::shared_ptr<RequestBodyStream> body,
                                                std::shared_ptr<Wait> wait,
                                                TimerClock::time_point deadline) {
  std::weak_ptr<Wait> weak = wait;
  body->OnRoom([weak] {
    if (std::shared_ptr<Wait> w = weak.lock()) {
      Nudge(w, [](Wait& x) { x.woken = true; });
    }
  });
  // The whole body arrives by the request's deadline however the answer sets the stream's
  // own timeouts meanwhile.
  auto timed_out = std::make_shared<bool>(false);
  auto guard = std::make_shared<asio::steady_timer>(conn.stream.get_executor(), deadline);
  guard->async_wait([timed_out, self = conn.shared_from_this()](beast::error_code ec) {
    if (!ec) {
      *timed_out = true;
      beast::error_code ignored;
      self->lowest().socket().cancel(ignored);
    }
  });
  bool complete = false;
  while (!wait->ending && !body->abandoned()) {
    wait->woken = false;
    if (!body->HasRoom()) {  // the consumer is behind: stop reading the client
      wait->timer.expires_at(TimerClock::time_point::max());
      co_await wait->timer.async_wait(kNoThrow);
      continue;
    }
    auto [ec, n] = co_await bhttp::async_read_some(conn.stream, buffer, parser, kNoThrow);
    auto& piece = parser.get().body();
    if (!piece.empty()) {
      (void)body->Push(std::string_view(piece.data(), piece.size()));
      SecureWipe(piece.data(), piece.size());
      piece.clear();
    }
    if (ec) {
      const bool parse_error =
          ec.category() == beast::error_code(bhttp::error::bad_method).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
      if (*timed_out) {
        body->Fail(
            Status(StatusCode::kDeadlineExceeded, "the request body did not arrive in time"));
      } else if (ec == bhttp::error::body_limit) {
        body->Fail(OutOfRangeError("request body exceeds the " +
                                   std::to_string(options_.max_body_bytes) + "-byte limit"));
      } else if (parse_error) {
        body->Fail(InvalidArgumentError("malformed request body"));
      } else {
        body->Fail(Status(StatusCode::kCancelled, "the client went away before sending its body"));
      }
      break;
    }
    if (parser.is_done()) {
      complete = true;
      body->Finish();
      break;
    }
  }
  if (!complete) {
    body->Fail(Status(StatusCode::kCancelled, "the body was not read"));  // unless it failed
  }
  guard->cancel();
  body->OnRoom(nullptr);
  conn.reading_body = false;
  wait->gone = !complete;
  wait->done = true;
}

template <typename Stream>
asio::awaitable<bool> BeastHttpServer::Write(Connection<Stream>& conn, const Response& response,
                                             unsigned version, bool keep_alive,
                                             const std::string& request_id, bool head) {
  WireResponse wire;
  SetHeader(wire, response, version, keep_alive, request_id);
  if (!IsBodyless(response.status)) {
    if (!head) {
      wire.body() = beast::span<const char>(response.body.data(), response.body.size());
    }
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
                              MonotonicTime start, std::string_view actor_id,
                              std::string_view internal_cause) {
  if (!observer_) {
    return;
  }
  RequestLogEntry entry{
      &request, route_template,
      status,   std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - start),
      actor_id, internal_cause};
  try {
    observer_(entry);
  } catch (...) {
    // Logging must never take a connection down.
  }
}

// StartConnection (server_listener.cc) serves connections of both kinds.
template asio::awaitable<void> BeastHttpServer::Serve(std::shared_ptr<Connection<PlainStream>> conn,
                                                      uint64_t id, std::string peer_ip);
template asio::awaitable<void> BeastHttpServer::Serve(std::shared_ptr<Connection<TlsStream>> conn,
                                                      uint64_t id, std::string peer_ip);

}  // namespace coffer::http::server_internal
