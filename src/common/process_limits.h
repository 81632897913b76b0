// Process-wide hardening that the commands holding key material apply first.
#pragma once

#include "common/status.h"

namespace coffer {

// The system calls DisableCoreDumps makes, each returning 0 or -1 with errno set; tests replace
// them to make one fail.
struct CoreDumpCalls {
  int (*set_core_limit_zero)();  // setrlimit(RLIMIT_CORE, {0, 0})
  int (*set_undumpable)();       // prctl(PR_SET_DUMPABLE, 0)
};

// Sets RLIMIT_CORE to 0 and makes the process undumpable, so no core file holds key material.
// kInternal naming the call that failed (both are tried): the caller must not go on to load a
// key. Not thread-safe: call it first, before any thread starts.
Status DisableCoreDumps();
Status DisableCoreDumps(const CoreDumpCalls& calls);

}  // namespace coffer
