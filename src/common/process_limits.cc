// Disabling core dumps: see process_limits.h.
#include "common/process_limits.h"

#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace coffer {

namespace {

int SetCoreLimitZero() {
  const struct rlimit none {
    0, 0
  };
  return ::setrlimit(RLIMIT_CORE, &none);
}

int SetUndumpable() { return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

}  // namespace

Status DisableCoreDumps() { return DisableCoreDumps({SetCoreLimitZero, SetUndumpable}); }

Status DisableCoreDumps(const CoreDumpCalls& calls) {
  std::string failed;
  if (calls.set_core_limit_zero() != 0) {
    failed = fmt::format("setrlimit(RLIMIT_CORE, 0): {}", std::strerror(errno));
  }
  if (calls.set_undumpable() != 0) {
    if (!failed.empty()) failed += "; ";
    failed += fmt::format("prctl(PR_SET_DUMPABLE, 0): {}", std::strerror(errno));
  }
  if (failed.empty()) return OkStatus();
  return InternalError("cannot disable core dumps, which could hold key material: " + failed);
}

}  // namespace coffer
