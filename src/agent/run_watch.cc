// SecretLongPolls: detached threads sharing a stop flag and an eventfd with the supervisor.
#include "agent/run_watch.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <utility>

namespace coffer::agent {

struct SecretLongPolls::Shared {
  Shared() : fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Shared() {
    if (fd >= 0) ::close(fd);
  }
  std::atomic<bool> stop{false};
  const int fd;
};

SecretLongPolls::SecretLongPolls(MakeClient make_client, std::vector<Target> targets,
                                 int wait_seconds, std::chrono::milliseconds retry)
    : shared_(std::make_shared<Shared>()) {
  if (shared_->fd < 0) return;
  for (Target& t : targets) {
    try {
      std::thread(Follow, shared_, make_client, std::move(t), wait_seconds, retry).detach();
    } catch (const std::system_error&) {
      // No thread: that secret is checked at the interval only.
    }
  }
}

SecretLongPolls::~SecretLongPolls() { shared_->stop.store(true); }

int SecretLongPolls::fd() const { return shared_->fd; }

void SecretLongPolls::Drain() {
  uint64_t count = 0;
  (void)!::read(shared_->fd, &count, sizeof(count));
}

void SecretLongPolls::Follow(std::shared_ptr<Shared> shared, MakeClient make, Target target,
                             int wait_seconds, std::chrono::milliseconds retry) {
  auto client = make();
  if (!client.has_value()) return;
  int64_t after = target.version;
  while (!shared->stop.load()) {
    auto answer = (*client)->WaitForSecret(target.vault_id, target.path, after, wait_seconds);
    if (shared->stop.load()) return;
    if (!answer.has_value()) {
      if (answer.error().code() == StatusCode::kInvalidArgument) {
        fmt::print(stderr,
                   "coffer run: the server cannot wait for new versions of {} ({}); checking "
                   "at the interval\n",
                   target.label, answer.error().message());
        return;
      }
      std::this_thread::sleep_for(retry);  // the interval check reports the failure
      continue;
    }
    if (!answer->has_value()) continue;  // 304: nothing newer yet
    const int64_t version = (*answer)->meta.version;
    if (version == after) {
      // Answered at once with what is in use: this server does not wait.
      return;
    }
    after = version;
    const uint64_t one = 1;
    (void)!::write(shared->fd, &one, sizeof(one));
  }
}

}  // namespace coffer::agent
