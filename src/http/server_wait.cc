// Deferred answers (long polls): a request whose handler returned Response::deferred waits on its
// connection's strand, holding no worker thread, until its WakeSignal fires, its time runs out,
// the client goes away or the server shuts down; the final answer is then made on the worker pool.
#include <sys/socket.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <cerrno>
#include <memory>
#include <optional>
#include <utility>

#include "http/problem_json.h"
#include "http/server_internal.h"

namespace coffer::http::server_internal {

namespace {

// The first byte of a TLS alert record: a TLS client that closes sends close_notify.
constexpr unsigned char kTlsAlertRecord = 0x15;

Response NotModified() {
  Response r;
  r.status = 304;
  r.content_type.clear();
  return r;
}

Response TooManyWaiting() {
  Response r = Problem(503, "too-many-waiting", "Too many waiting requests",
                       "the server holds as many waiting requests as it may; try again");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// deferred.resume(woken) on the calling thread; a throw becomes a 500 problem.
std::optional<Response> ResumeHere(const Deferred& deferred, bool woken) {
  try {
    return deferred.resume(woken);
  } catch (...) {
    // The type is not named: this is a handler's bug, as in Dispatch.
    return ProblemFromStatus(InternalError("a deferred answer threw"));
  }
}

}  // namespace

void BeastHttpServer::WatchForHangUp(const std::shared_ptr<Wait>& wait, tcp::socket& socket,
                                     bool tls) {
  socket.async_wait(
      tcp::socket::wait_read,
      asio::bind_executor(wait->executor, [wait, &socket, tls](const beast::error_code& ec) {
        if (wait->done || ec == asio::error::operation_aborted) {
          return;  // the socket is not touched once the wait is over
        }
        unsigned char first = 0;
        const ssize_t n =
            ec ? -1 : ::recv(socket.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && !ec && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          WatchForHangUp(wait, socket, tls);
          return;
        }
        if (n <= 0 || (tls && first == kTlsAlertRecord)) {
          wait->gone = true;
          wait->timer.cancel();
        }
      }));
}

template <typename Stream>
asio::awaitable<bool> BeastHttpServer::AwaitDeferred(Connection<Stream>& conn, Response& response) {
  const std::shared_ptr<Deferred> deferred = std::move(response.deferred);
  const std::string actor_id = std::move(response.actor_id);  // for the access log
  if (response.stream) {
    response.stream->Abandon();  // the other fields of a deferring response are ignored
  }
  response = Response();
  response.actor_id = actor_id;
  if (!deferred->wake || !deferred->resume) {
    response = ProblemFromStatus(InternalError("a deferred answer without a signal or a resume"));
    co_return true;
  }
  if (waiting_requests_.fetch_add(1) >= options_.max_waiting_requests) {
    waiting_requests_.fetch_sub(1);
    response = TooManyWaiting();
    response.actor_id = actor_id;
    co_return true;
  }
  auto wait = std::make_shared<Wait>(conn.stream.get_executor());
  wait->signal = deferred->wake;
  uint64_t wait_id = 0;
  {
    MutexLock lock(mu_);
    wait_id = next_wait_id_++;
    waits_.emplace(wait_id, wait);
    wait->ending = draining_.load();  // EndWaits has run or will see this wait
  }
  // Undone however the coroutine ends, its frame destroyed with the io_context included.
  struct Cleanup {
    BeastHttpServer* server;
    std::shared_ptr<Wait> wait;
    uint64_t id;
    std::shared_ptr<Deferred> deferred;
    ~Cleanup() {
      wait->done = true;
      wait->signal->StopListening();
      {
        MutexLock lock(server->mu_);
        server->waits_.erase(id);
      }
      deferred->hold.reset();
      server->waiting_requests_.fetch_sub(1);
    }
  } cleanup{this, wait, wait_id, deferred};

  std::weak_ptr<Wait> weak = wait;
  wait->signal->Listen([weak] {
    if (std::shared_ptr<Wait> w = weak.lock()) {
      Nudge(w, [](Wait& x) { x.woken = true; });
    }
  });
  // While a streamed request body is read beside, its reader sees the client go away instead.
  const bool watching = !conn.reading_body;
  if (watching) {
    WatchForHangUp(wait, conn.lowest().socket(), std::is_same_v<Stream, TlsStream>);
  }

  const TimerClock::time_point deadline = TimerClock::now() + deferred->timeout;
  std::optional<Response> answer;
  while (!answer.has_value()) {
    if (!wait->woken && !wait->gone && !wait->ending) {
      wait->timer.expires_at(deadline);
      co_await wait->timer.async_wait(kNoThrow);
    }
    if (wait->gone) {
      break;
    }
    const bool woken = wait->woken && !wait->ending;
    wait->woken = false;
    const bool over = wait->ending || TimerClock::now() >= deadline;
    if (!woken && !over) {
      continue;  // the timer was cancelled for a wake that has been handled
    }
    if (woken) {
      (void)wait->signal->TakeFired();  // a Fire() from here on wakes again
    }
    if (woken) {
      answer = co_await Resume(*deferred, true);
    }
    if (!answer.has_value() && over) {
      answer = co_await Resume(*deferred, false);
      if (!answer.has_value()) {
        answer = NotModified();
      }
    }
  }
  wait->done = true;
  if (watching) {
    beast::error_code ignored;
    conn.lowest().socket().cancel(ignored);  // the hang-up watch
  }
  if (!answer.has_value()) {
    co_return false;  // the client went away
  }
  response = std::move(*answer);
  response.deferred = nullptr;  // one wait per request
  if (response.actor_id.empty()) {
    response.actor_id = actor_id;
  }
  co_return true;
}

asio::awaitable<std::optional<Response>> BeastHttpServer::Resume(const Deferred& deferred,
                                                                 bool woken) {
  if (deferred.quick) {
    co_return ResumeHere(deferred, woken);  // no hand-off to the pool and back
  }
  std::optional<Response> answer;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&](auto resume) {
        asio::post(workers_, [&, resume = std::move(resume)]() mutable {
          answer = ResumeHere(deferred, woken);
          auto executor = asio::get_associated_executor(resume);
          asio::post(executor, std::move(resume));
        });
      },
      asio::use_awaitable);
  co_return answer;
}

void BeastHttpServer::EndWaits() {
  MutexLock lock(mu_);
  for (auto& [id, wait] : waits_) {
    Nudge(wait, [](Wait& x) { x.ending = true; });
  }
}

void BeastHttpServer::DetachWaits() {
  MutexLock lock(mu_);
  for (auto& [id, wait] : waits_) {
    wait->signal->StopListening();
  }
}

template asio::awaitable<bool> BeastHttpServer::AwaitDeferred(Connection<PlainStream>& conn,
                                                              Response& response);
template asio::awaitable<bool> BeastHttpServer::AwaitDeferred(Connection<TlsStream>& conn,
                                                              Response& response);

}  // namespace coffer::http::server_internal
