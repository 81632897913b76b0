// CurlUpstreamClient: every call is a libcurl easy handle on a multi handle (a CurlEngine,
// gateway/curl_engine.h), driven through libcurl's socket interface (curl_multi_socket_action)
// under the engine's lock. What an engine waits on (gateway/curl_socket_loop.h: epoll on the
// sockets libcurl names, its timer and a wake-up) is either waited on by a transfer thread of its
// own, or watched by the ThreadLoop of the thread that started its calls (common/thread_loop.h): an
// HTTP server's I/O thread then sends the request, reads the answer and hands it to the connection
// itself, with no other thread woken; the calls it starts in one pass over its ready connections
// are queued and leave together when it is back in its loop. On the transfer thread's engine, Start
// drives the multi handle itself when the lock is free, so a call's request leaves from the
// caller's thread. Cancel and a streamed body's "more came" go through a locked queue and the
// engine's wake-up. A call's handle and sink are touched only under the lock.
#include "gateway/upstream.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "common/mutex.h"
#include "common/thread_loop.h"
#include "gateway/curl_engine.h"

namespace coffer::gateway {

namespace {

class CurlUpstreamClient final : public UpstreamClient {
 public:
  CurlUpstreamClient(EgressGuard guard, size_t max_concurrent)
      : guard_(std::move(guard)),
        max_concurrent_(max_concurrent),
        engine_(
            std::make_shared<CurlEngine>(guard_, max_concurrent, CurlEngine::Driver::kOwnThread)) {
    if (!engine_->ok()) std::abort();  // out of memory or descriptors at start-up
  }
  ~CurlUpstreamClient() override {
    engine_->Stop();
    std::unordered_map<uint64_t, std::shared_ptr<CurlEngine>> looped;
    {
      MutexLock lock(mu_);
      looped.swap(looped_);
    }
    for (auto& [id, engine] : looped) engine->Stop();
  }
  CurlUpstreamClient(const CurlUpstreamClient&) = delete;
  CurlUpstreamClient& operator=(const CurlUpstreamClient&) = delete;

  std::shared_ptr<UpstreamCall> Start(UpstreamRequest request,
                                      std::shared_ptr<UpstreamSink> sink) override {
    std::shared_ptr<CurlEngine> engine = EngineHere();
    auto call = std::make_shared<CurlCall>(std::move(request), std::move(sink), engine);
    engine->Start(call);
    return call;
  }

 private:
  // The engine of the calling thread's loop (made on its first call), so the call is driven
  // there; else the one with a transfer thread of its own.
  std::shared_ptr<CurlEngine> EngineHere() {
    ThreadLoop* loop = ThreadLoop::Current();
    if (loop == nullptr) return engine_;
    MutexLock lock(mu_);
    std::shared_ptr<CurlEngine>& engine = looped_[loop->id()];
    if (engine == nullptr) {
      engine =
          std::make_shared<CurlEngine>(guard_, max_concurrent_, CurlEngine::Driver::kThreadLoop);
      const int fd = engine->ok() ? ::dup(engine->fd()) : -1;
      if (fd < 0) {  // out of descriptors or memory: this call goes to the transfer thread
        looped_.erase(loop->id());
        return engine_;
      }
      // The loop keeps the engine until a Poll says it has stopped: Stop wakes it for that.
      loop->Watch(fd, [engine] { return engine->Poll(); });
    }
    return engine;
  }

  const EgressGuard guard_;
  const size_t max_concurrent_;
  const std::shared_ptr<CurlEngine> engine_;  // driven by its own transfer thread
  Mutex mu_;
  // By ThreadLoop id: driven by that loop's thread.
  std::unordered_map<uint64_t, std::shared_ptr<CurlEngine>> looped_ COFFER_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<UpstreamClient> NewCurlUpstreamClient(EgressGuard guard, size_t max_concurrent) {
  return std::make_unique<CurlUpstreamClient>(std::move(guard), max_concurrent);
}

}  // namespace coffer::gateway
