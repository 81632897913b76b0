// Which variables `coffer run` lets a secret set in the command's environment. Whoever can write
// a secret (an env_bundle, or a value a coffer:// reference names) must not thereby choose how the
// command starts: variables that make the dynamic loader, a shell, an interpreter or a runtime
// load or run code of their choosing (LD_PRELOAD, BASH_ENV, PATH, NODE_OPTIONS, PYTHONPATH, …)
// are refused unless the user allows the exact name. The list, and why each row is on it, is in
// docs/security.md ("What `coffer run` lets a secret set").
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace coffer::client {

// The variable coffer's own client reads its credential from. `coffer run` removes it from the
// command's environment unless asked to pass the credential on (--pass-token).
inline constexpr std::string_view kTokenVariable = "COFFER_TOKEN";

// What makes `name` change how a program starts or which code it loads, in a few words ("the
// dynamic loader loads code from it"); empty when a secret may set it. Thread-safe.
std::string_view StartupRisk(std::string_view name);

// The refused names and prefixes in the order of the table, a prefix written "NAME*" (for help
// texts). Thread-safe.
std::vector<std::string> StartupVariablePatterns();

// OK when a secret may set `name` in the command's environment. kInvalidArgument when `name` is
// not a variable name at all (empty, or holding '=' or NUL), or is one StartupRisk names and is
// not in `allowed` (exact, case-sensitive names): the message names the variable, says why, and
// how to allow it (--allow-env NAME). Thread-safe.
Status CheckSecretVariable(std::string_view name,
                           const std::set<std::string, std::less<>>& allowed);

}  // namespace coffer::client
