// HttpServer::Create and the server's lifecycle: the I/O threads of Run(), signals (shutdown, TLS
// reload) and the graceful drain of Shutdown(). Accepting, connections, handlers and TLS have
// files of their own (server_internal.h names them).
#include "http/server.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/thread_loop.h"
#include "http/server_internal.h"

namespace coffer::http {

namespace server_internal {

namespace {

// An I/O thread's io_context, offered to other layers as the thread's ThreadLoop.
class IoThreadLoop final : public ThreadLoop {
 public:
  explicit IoThreadLoop(asio::io_context& context) : context_(context) { SetCurrent(this); }
  ~IoThreadLoop() override { SetCurrent(nullptr); }
  IoThreadLoop(const IoThreadLoop&) = delete;
  IoThreadLoop& operator=(const IoThreadLoop&) = delete;

  void Watch(int fd, std::function<bool()> ready) override {
    Arm(std::make_shared<asio::posix::stream_descriptor>(context_, fd), std::move(ready));
  }

 private:
  // Each wait re-registers the descriptor with the reactor, which reports it at once if it is
  // still readable: nothing `ready` left unread is lost to the edge-triggered reactor.
  static void Arm(std::shared_ptr<asio::posix::stream_descriptor> descriptor,
                  std::function<bool()> ready) {
    auto& d = *descriptor;
    d.async_wait(asio::posix::stream_descriptor::wait_read,
                 [descriptor = std::move(descriptor),
                  ready = std::move(ready)](const beast::error_code& error) mutable {
                   if (error) return;  // the io_context is going: the descriptor closes with it
                   bool more = true;
                   try {
                     more = ready();
                   } catch (...) {
                     // Watching goes on: what failed was one round, not the descriptor.
                   }
                   if (!more) {
                     beast::error_code ignored;
                     descriptor->close(ignored);
                     return;
                   }
                   Arm(std::move(descriptor), std::move(ready));
                 });
  }

  asio::io_context& context_;
};

}  // namespace

BeastHttpServer::~BeastHttpServer() {
  // A before_send continuation still to come posts to an io_context: it must find it alive. One
  // that has been called holds nothing of it any more (PostResume), however long its caller
  // keeps it.
  before_send_in_flight_.WaitForNone();
  DetachWaits();    // a WakeSignal fired from now on must not post to an io_context
  DetachStreams();  // nor a streamed body written
  {
    MutexLock lock(mu_);
    StopLocked();  // connection frames destroyed below must not touch the io_contexts any more
  }
  workers_.stop();
  workers_.join();
  // Members go in reverse order: the worker pool before the io_contexts (its queued work refers
  // to them), the io_contexts (and the connection frames they own) before mu_ and connections_.
  // A connection's frame refers to its own io_context only; the accept loop's, on the first,
  // holds the others by their plain executors, which destroying does not touch.
}

BeastHttpServer::Contexts BeastHttpServer::MakeContexts(int io_threads) {
  if (io_threads <= 0) {
    io_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  Contexts contexts;
  for (int i = 0; i < io_threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));  // run by one thread
  }
  return contexts;
}

BeastHttpServer::KeepRunningGuards BeastHttpServer::KeepRunning(const Contexts& contexts) {
  KeepRunningGuards guards;
  for (const auto& context : contexts) {
    guards.push_back(asio::make_work_guard(*context));
  }
  return guards;
}

asio::io_context& BeastHttpServer::NextContext() {
  asio::io_context& context = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  return context;
}

Status BeastHttpServer::Run() {
  if (run_called_.exchange(true)) {
    return FailedPreconditionError("HttpServer::Run called twice");
  }
  asio::co_spawn(control_, AcceptLoop(), [](std::exception_ptr) {});

  std::vector<std::thread> threads;
  bool started = true;
  for (size_t i = 1; i < contexts_.size() && started; ++i) {
    try {
      threads.emplace_back([this, &context = *contexts_[i]] { RunIoThread(context); });
    } catch (const std::exception&) {
      // Every io_context needs its thread: without it, its connections would never be served.
      // Those already running stop, and Run reports.
      started = false;
      MutexLock lock(mu_);
      StopLocked();
    }
  }
  if (started) {
    RunIoThread(*contexts_.front());
  }
  for (std::thread& t : threads) {
    t.join();
  }
  // Handlers still running (only possible after shutdown_grace ran out) finish; queued ones
  // are dropped.
  workers_.stop();
  workers_.join();
  return started ? OkStatus() : UnavailableError("cannot start the HTTP server's I/O threads");
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

void BeastHttpServer::RunIoThread(asio::io_context& context) {
  IoThreadLoop loop(context);
  for (;;) {
    try {
      context.run();
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
  EndWaits();  // waiting requests answer now (304), then their connections close
  std::vector<std::shared_ptr<ConnectionBase>> live;
  {
    MutexLock lock(mu_);
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
  // before it would wait for another one, and answers with "Connection: close". A streamed body
  // may go on until the grace runs out.
  for (auto& conn : live) {
    conn->CloseIfIdle();
  }
  grace_timer_.expires_after(options_.shutdown_grace);
  grace_timer_.async_wait([this](const beast::error_code& error) {
    if (!error) {
      EndStreams();  // their producers stop now, not when the server is destroyed
      MutexLock lock(mu_);
      StopLocked();
    }
  });
}

void BeastHttpServer::StopLocked() {
  if (!stopped_) {
    stopped_ = true;
    for (auto& context : contexts_) {
      context->stop();
    }
  }
}

}  // namespace server_internal

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const ServerOptions& options,
                                                         const Router& router,
                                                         RequestObserver observer) {
  if (options.clock == nullptr || options.random == nullptr) {
    return Err(InvalidArgumentError("HTTP server: a clock and a random source are required"));
  }
  try {
    auto server =
        std::make_unique<server_internal::BeastHttpServer>(options, router, std::move(observer));
    RETURN_IF_ERROR(server->LoadTls());
    RETURN_IF_ERROR(server->Bind());
    return std::unique_ptr<HttpServer>(std::move(server));
  } catch (const std::exception& e) {
    // Asio reports resource exhaustion (no threads, no descriptors) by throwing.
    return Err(UnavailableError(std::string("cannot start HTTP server: ") + e.what()));
  }
}

}  // namespace coffer::http
