// Streamed response bodies (Response::stream): the connection sends the header at once (with
// whatever of the body is there already), then each piece of the body as its producer writes
// it, waiting on its strand (no worker thread) for the next; the client going away or the end of
// the shutdown's grace abandons the stream.
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/secret_buffer.h"
#include "http/server_internal.h"

namespace coffer::http::server_internal {

namespace {

constexpr std::string_view kCrLf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

// "1a2\r\n": the size line of a chunk of `size` bytes.
std::string ChunkSizeLine(size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[size & 0x0f]);
    size >>= 4;
  } while (size != 0);
  return digits + std::string(kCrLf);
}

}  // namespace

template <typename Stream>
asio::awaitable<bool> BeastHttpServer::WriteStream(Connection<Stream>& conn, std::string header,
                                                   std::shared_ptr<BodyStream> body,
                                                   Framing framing) {
  auto wait = std::make_shared<Wait>(conn.stream.get_executor());
  uint64_t stream_id = 0;
  {
    MutexLock lock(mu_);
    stream_id = next_stream_id_++;
    streams_.emplace(stream_id, Streaming{wait, body});
  }
  std::deque<std::string> chunks;
  // Undone however the coroutine ends, its frame destroyed with the io_context included.
  struct Cleanup {
    BeastHttpServer* server;
    std::shared_ptr<Wait> wait;
    uint64_t id;
    std::shared_ptr<BodyStream> body;  // a copy: the caller's frame may go first
    std::deque<std::string>& chunks;
    std::string& header;
    ~Cleanup() {
      wait->done = true;
      body->StopListening();
      {
        MutexLock lock(server->mu_);
        server->streams_.erase(id);
      }
      body->Abandon();  // nothing if the producer ended
      BodyStream::WipeChunks(chunks);
      SecureWipe(header);
    }
  } cleanup{this, wait, stream_id, body, chunks, header};

  std::weak_ptr<Wait> weak = wait;
  body->Listen([weak] {
    if (std::shared_ptr<Wait> w = weak.lock()) {
      Nudge(w, [](Wait& x) { x.woken = true; });
    }
  });

  // The header goes out with whatever of the body is there already (a proxied head and the
  // bytes that came with it: one write), else alone at once.
  bool header_sent = false;
  // (Written out at each use: no coroutine lambda, and no co_await in a conditional expression,
  // which GCC 12 miscompiles.)
  const auto with_header = [&](std::vector<asio::const_buffer>& buffers) {
    if (!header_sent) {
      buffers.insert(buffers.begin(), asio::buffer(header));
      header_sent = true;
    }
    conn.lowest().expires_after(options_.write_timeout);
  };
  // While a streamed request body is read beside, its reader sees the client go away instead.
  const bool watching = !conn.reading_body;
  bool watch_started = false;

  bool complete = false;
  for (;;) {
    wait->woken = false;
    const BodyStream::State state = body->Take(chunks);
    if (!chunks.empty() && framing != Framing::kNone && state != BodyStream::State::kAbandoned) {
      size_t size = 0;
      for (const std::string& chunk : chunks) {
        size += chunk.size();
      }
      const std::string size_line = ChunkSizeLine(size);
      std::vector<asio::const_buffer> buffers;
      buffers.reserve(chunks.size() + 4);
      if (framing == Framing::kChunked) {
        buffers.push_back(asio::buffer(size_line));
      }
      for (const std::string& chunk : chunks) {
        buffers.push_back(asio::buffer(chunk));
      }
      if (framing == Framing::kChunked) {
        buffers.push_back(asio::buffer(kCrLf));
        if (state == BodyStream::State::kFinished) {
          buffers.push_back(asio::buffer(kLastChunk));  // the end goes with the last bytes
        }
      }
      with_header(buffers);
      auto [ec, n] = co_await asio::async_write(conn.stream, buffers, kNoThrow);
      conn.lowest().expires_never();  // a producer taking its time is not the client's fault
      BodyStream::WipeChunks(chunks);
      if (ec) {
        break;
      }
      if (state == BodyStream::State::kFinished) {
        complete = true;
        break;
      }
      continue;  // more may have come meanwhile
    }
    BodyStream::WipeChunks(chunks);  // nothing to send them in, or no one to send them to
    if (state == BodyStream::State::kFinished) {
      std::vector<asio::const_buffer> end;
      if (framing == Framing::kChunked) {
        end.push_back(asio::buffer(kLastChunk));
      }
      complete = true;
      if (!header_sent || !end.empty()) {
        with_header(end);
        auto [ec, n] = co_await asio::async_write(conn.stream, end, kNoThrow);
        conn.lowest().expires_never();
        complete = !ec;
      }
      break;
    }
    if (!header_sent) {
      // Nothing to go with it: the header alone, at once.
      std::vector<asio::const_buffer> alone;
      with_header(alone);
      auto [ec, n] = co_await asio::async_write(conn.stream, alone, kNoThrow);
      conn.lowest().expires_never();
      if (ec) {
        break;
      }
    }
    if (state == BodyStream::State::kFailed && framing == Framing::kUntilClose) {
      // Without chunks the client could take the close for the body's end: reset instead.
      wait->done = true;
      beast::error_code ignored;
      conn.lowest().socket().set_option(tcp::socket::linger(true, 0), ignored);
      conn.lowest().socket().close(ignored);  // now: a shutdown would send an orderly end first
      co_return false;
    }
    if (state != BodyStream::State::kOpen || wait->gone || wait->ending) {
      break;  // failed, abandoned, the client went away or the server is stopping
    }
    if (watching && !watch_started) {
      watch_started = true;
      WatchForHangUp(wait, conn.lowest().socket(), std::is_same_v<Stream, TlsStream>);
    }
    if (!wait->woken) {
      wait->timer.expires_at(TimerClock::time_point::max());
      co_await wait->timer.async_wait(kNoThrow);
    }
  }
  wait->done = true;
  if (watch_started) {
    beast::error_code ignored;
    conn.lowest().socket().cancel(ignored);  // the hang-up watch
  }
  co_return complete;
}

void BeastHttpServer::EndStreams() {
  std::vector<std::shared_ptr<BodyStream>> bodies;
  {
    MutexLock lock(mu_);
    for (auto& [id, streaming] : streams_) {
      Nudge(streaming.wait, [](Wait& x) { x.ending = true; });
      bodies.push_back(streaming.body);
    }
  }
  // Outside mu_: a producer's callback may do anything.
  for (const auto& body : bodies) {
    body->Abandon();
  }
}

void BeastHttpServer::DetachStreams() {
  MutexLock lock(mu_);
  for (auto& [id, streaming] : streams_) {
    streaming.body->StopListening();
  }
}

template asio::awaitable<bool> BeastHttpServer::WriteStream(Connection<PlainStream>& conn,
                                                            std::string header,
                                                            std::shared_ptr<BodyStream> body,
                                                            Framing framing);
template asio::awaitable<bool> BeastHttpServer::WriteStream(Connection<TlsStream>& conn,
                                                            std::string header,
                                                            std::shared_ptr<BodyStream> body,
                                                            Framing framing);

}  // namespace coffer::http::server_internal
