// DeadlineWorker: see deadline_worker.h.
#include "common/deadline_worker.h"

#include <algorithm>
#include <utility>

namespace coffer {

DeadlineWorker::DeadlineWorker(std::chrono::nanoseconds timeout, const MonotonicClock& clock,
                               std::function<void()> at_thread_exit)
    : timeout_(timeout), clock_(clock), shared_(std::make_shared<Shared>()) {
  thread_ = std::thread([shared = shared_, at_exit = std::move(at_thread_exit)] {
    RunJobs(shared);
    if (at_exit) {
      at_exit();
    }
  });
}

DeadlineWorker::~DeadlineWorker() {
  {
    MutexLock lock(shared_->mu);
    shared_->stopping = true;
  }
  shared_->cv.NotifyAll();
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void DeadlineWorker::RunJobs(const std::shared_ptr<Shared>& shared) {
  MutexLock lock(shared->mu);
  while (true) {
    while (shared->queue.empty() && !shared->stopping) {
      shared->cv.Wait(shared->mu);
    }
    if (shared->queue.empty()) {
      return;  // stopping, and nothing left to run
    }
    std::shared_ptr<Job> job = std::move(shared->queue.front());
    shared->queue.pop_front();
    if (job->abandoned) {
      continue;
    }
    shared->running = job;
    std::function<void()> call = std::move(job->call);
    lock.Unlock();
    call();
    // What the call captured is released before its caller learns that it is done, so that a
    // caller still waiting holds the last reference to the worker's owner and destroys it (and
    // joins this thread) on its own thread; released here, the owner would be destroyed on this
    // thread, which must then detach and could outlive the process's exit cleanup. Without the
    // lock: the owner's destruction takes it.
    call = nullptr;
    lock.Lock();
    job->done = true;
    shared->running.reset();
    shared->cv.NotifyAll();
    lock.Unlock();
    job.reset();
    lock.Lock();
  }
}

DeadlineWorker::Outcome DeadlineWorker::Run(std::function<void()> call) {
  Shared& s = *shared_;
  MutexLock lock(s.mu);
  if (s.running != nullptr && s.running->abandoned) {
    return Outcome::kStuck;
  }
  auto job = std::make_shared<Job>();
  job->call = std::move(call);
  s.queue.push_back(job);
  s.cv.NotifyAll();
  bool stuck = false;
  const bool done = clock_.WaitFor(s.mu, s.cv, timeout_, [&]() COFFER_REQUIRES(s.mu) {
    // A call ahead of this one overran its deadline: fail now rather than wait behind it.
    stuck = !job->done && s.running != nullptr && s.running != job && s.running->abandoned;
    return job->done || stuck;
  });
  if (done && !stuck) {
    return Outcome::kDone;
  }
  job->abandoned = true;
  const auto queued = std::find(s.queue.begin(), s.queue.end(), job);
  if (queued != s.queue.end()) {
    s.queue.erase(queued);
  }
  if (s.running == job) {
    s.cv.NotifyAll();  // callers queued behind it fail at once
  }
  return stuck ? Outcome::kStuck : Outcome::kTimedOut;
}

bool DeadlineWorker::stuck() const {
  MutexLock lock(shared_->mu);
  return shared_->running != nullptr && shared_->running->abandoned;
}

}  // namespace coffer
