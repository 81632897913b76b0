// The exit codes every `coffer` command shares. The client commands add theirs (auth, not found,
// server) in client/exit_codes.h.
#pragma once

namespace coffer {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

}  // namespace coffer
