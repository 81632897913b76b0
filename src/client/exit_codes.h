// Exit codes of the client commands (login, vaults, secrets, agents, policies, audit, run, mcp),
// the mapping from a Status to one, and how a failed command reports it. Documented in
// `coffer --help` and the README.
#pragma once

#include <string_view>

#include "common/exit_codes.h"
#include "common/status.h"

namespace coffer::client {

// kExitOk (0), kExitError (1) and kExitUsage (2) come from common/exit_codes.h.
inline constexpr int kExitAuth = 3;      // 401 or 403: no, bad or insufficient credentials
inline constexpr int kExitNotFound = 4;  // 404: no such vault, secret, agent, policy…
inline constexpr int kExitServer = 5;    // 5xx, or the server could not be reached

// The exit code for a failed command: kInvalidArgument/kOutOfRange -> 2 (usage, or a request the
// server refused as invalid), kUnauthenticated/kPermissionDenied -> 3, kNotFound -> 4, internal,
// unavailable, deadline and unknown -> 5, anything else (conflict, gone, rate limit) -> 1.
// kOk -> 0.
int ExitCodeFor(const Status& status);

// The text `coffer --help` shows about exit codes.
std::string_view ExitCodesHelp();

// Prints "error: <message>" (with a hint for a 401 without a token) to stderr and returns the
// exit code for `status`.
int ReportError(const Status& status);

}  // namespace coffer::client
