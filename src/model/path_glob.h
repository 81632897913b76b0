// Path globs of access policies: which secret paths a policy covers (`*` within one segment,
// `**` for any number of whole segments), and whether a list prefix could reach any of them.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "model/secret_path.h"

namespace coffer {

inline constexpr size_t kMaxPathGlobLength = kMaxSecretPathLength;
inline constexpr size_t kMaxPathGlobSegments = kMaxSecretPathSegments;

// A glob is non-empty '/'-separated segments. A segment is either
//   `**`  alone: matches ZERO or more whole path segments, or
//   a pattern of path characters `[A-Za-z0-9_-]` and `*`, where `*` matches any run (possibly
//         empty) of characters within one segment, never a '/'.
// Matching is byte-wise and case-sensitive. Examples:
//   `api-keys/*`  matches `api-keys/openai`; not `api-keys/a/b`, `api-keys-prod/x` or `api-keys`.
//   `api-keys/**` matches `api-keys/a`, `api-keys/a/b/c` AND `api-keys` itself: `**` may match
//                 zero segments, so a policy on a folder's `**` also covers a secret stored at
//                 the folder's own path. Use `api-keys/*/**` to cover only what lies below it.
//   `**/prod/*`   matches `prod/x` and `a/b/prod/x`;  `a/**/b` matches `a/b` and `a/x/y/b`.
//   `**`          matches every path.

// OK, or kInvalidArgument saying what is wrong: empty glob, leading, trailing or double '/', a
// character outside `[A-Za-z0-9_-*/]`, `**` mixed with other characters in one segment (`a**b`,
// `***`), more than kMaxPathGlobSegments segments or kMaxPathGlobLength characters.
// Thread-safe.
Status ValidatePathGlob(std::string_view glob);

// Whether `path` matches `glob`.
// REQUIRES: ValidatePathGlob(glob).ok() and ValidateSecretPath(path).ok(); for other inputs the
// answer is unspecified but the call is still safe (false for an empty path).
// Thread-safe, allocation-free, O(glob.size() * path.size()) in the worst case.
bool PathGlobMatches(std::string_view glob, std::string_view path);

// Whether some path that starts with `prefix` (a plain string prefix, as listing uses: "db/",
// "db", "api-k" and "" are all fine) could match `glob`. Used to decide whether a principal may
// list under a prefix. Exact except that it ignores the length and segment-count limits on
// paths, so it may answer true when only a too-long path would match (conservative).
// REQUIRES: ValidatePathGlob(glob).ok() and ValidateSecretPrefix(prefix).ok().
// Thread-safe, allocation-free, O(glob.size() * prefix.size()) in the worst case.
bool PathGlobMayMatchPrefix(std::string_view glob, std::string_view prefix);

}  // namespace coffer
