// ThreadLoop: the event loop a thread runs, offered to other layers so that work begun on that
// thread can finish there. The HTTP server's I/O threads offer theirs: an outbound call a request
// starts (gateway/upstream.h) is then driven by the thread that serves the request, and its answer
// reaches the connection without waking another thread and handing it back.
#pragma once

#include <cstdint>
#include <functional>

namespace coffer {

class ThreadLoop {
 public:
  virtual ~ThreadLoop() = default;

  // Calls `ready` on this loop's thread whenever `fd` may be readable (a call with nothing to
  // read is possible), until `ready` returns false (one that throws is called again next time).
  // The loop owns `fd` (pass a duplicate to keep one's own) and closes it then, or when the loop
  // itself ends. Only on this loop's thread.
  virtual void Watch(int fd, std::function<bool()> ready) = 0;

  // Unique among the loops of this process, even after a loop ends.
  uint64_t id() const { return id_; }

  // The loop the calling thread runs, or null.
  static ThreadLoop* Current();

 protected:
  ThreadLoop();
  // Makes `loop` the calling thread's (null: none), by whoever runs it.
  static void SetCurrent(ThreadLoop* loop);

 private:
  const uint64_t id_;
};

}  // namespace coffer
