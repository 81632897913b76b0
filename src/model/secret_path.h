// The rules for secret paths: `[A-Za-z0-9_-]+` segments joined by '/', no leading, trailing or
// double slash, no '.' or '..'.
#pragma once

#include <string_view>

#include "common/status.h"

namespace coffer {

inline constexpr size_t kMaxSecretPathLength = 512;
inline constexpr size_t kMaxSecretPathSegments = 32;

// OK, or kInvalidArgument saying which rule the path breaks (without echoing it when it is long).
Status ValidateSecretPath(std::string_view path);

// Same rules for a list prefix, which may also be empty or end in '/'.
Status ValidateSecretPrefix(std::string_view prefix);

}  // namespace coffer
