// `coffer run --watch`'s long polls: one thread per watched secret asks the server to answer as
// soon as a version newer than the one it last saw is readable, and then makes fd() readable for
// the supervisor's loop. A server without long polls (it answers at once with a version that is
// not newer, or refuses the parameters with a 400) ends that secret's thread; the interval check
// goes on as before, and is the fallback.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/coffer_client.h"

namespace coffer::agent {

class SecretLongPolls {
 public:
  struct Target {
    std::string label;  // for messages: VAULT/PATH
    std::string vault_id;
    std::string path;
    int64_t version = 0;  // the version in use
  };
  // A client of its own for each thread (a client serves one request at a time); its timeout
  // must exceed `wait_seconds`.
  using MakeClient = std::function<StatusOr<std::unique_ptr<client::CofferClient>>()>;

  // Starts one thread per target. `retry`: the pause after a failed request.
  SecretLongPolls(MakeClient make_client, std::vector<Target> targets, int wait_seconds,
                  std::chrono::milliseconds retry);
  // Tells the threads to stop and leaves them: one may be inside a request, which cannot be
  // interrupted; it ends by itself when the answer or its timeout comes (or with the process).
  ~SecretLongPolls();
  SecretLongPolls(const SecretLongPolls&) = delete;
  SecretLongPolls& operator=(const SecretLongPolls&) = delete;

  // Readable once a newer version was seen; -1 if it could not be created.
  int fd() const;
  // Empties fd() (call when it is readable).
  void Drain();

 private:
  struct Shared;
  // One thread's loop: long polls for `target` until told to stop.
  static void Follow(std::shared_ptr<Shared> shared, MakeClient make, Target target,
                     int wait_seconds, std::chrono::milliseconds retry);
  std::shared_ptr<Shared> shared_;
};

}  // namespace coffer::agent
