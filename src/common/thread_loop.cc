#include "common/thread_loop.h"

#include <atomic>

namespace coffer {

namespace {

thread_local ThreadLoop* current_loop = nullptr;
std::atomic<uint64_t> next_loop_id{1};

}  // namespace

ThreadLoop::ThreadLoop() : id_(next_loop_id.fetch_add(1, std::memory_order_relaxed)) {}

ThreadLoop* ThreadLoop::Current() { return current_loop; }

void ThreadLoop::SetCurrent(ThreadLoop* loop) { current_loop = loop; }

}  // namespace coffer
