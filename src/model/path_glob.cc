// Path glob validation and matching: a two-level greedy wildcard matcher (segments, then
// characters within a segment) that never backtracks exponentially.
#include "model/path_glob.h"

#include <fmt/format.h>

namespace coffer {
namespace {

constexpr size_t kNone = std::string_view::npos;
constexpr std::string_view kAnySegments = "**";

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// How the last unit of the text must be matched.
enum class Mode {
  kWhole,   // the text is the whole subject
  kPrefix,  // the text is only the start of the subject; anything may follow it
};

// The segment of `s` that starts at offset `pos` (pos <= s.size()): up to the next '/' or the
// end. The segment after it starts at pos + size + 1, which is s.size() + 1 past the last one.
std::string_view SegmentAt(std::string_view s, size_t pos) {
  const size_t end = s.find('/', pos);
  return s.substr(pos, end == kNone ? kNone : end - pos);
}

// Why the greedy algorithm below is correct and polynomial. It is used twice: over the characters
// of one segment (wildcard `*`, units are characters) and over the segments of a path (wildcard
// `**`, units are segments, a unit "matches" when SegmentMatches says so). In both, every
// non-wildcard token consumes exactly one unit, so the pattern is B0 * B1 * ... * Bk with each
// block Bi of fixed width.
//  - Correctness: the subject matches iff B0 matches at the start, Bk at the end and B1..Bk-1 at
//    non-overlapping positions in order between them. If any placement works, moving B1 to its
//    leftmost possible position still works (the next wildcard absorbs the larger gap), and so
//    on for each block. The loop finds exactly that: it tries each block at increasing offsets
//    after the last wildcard it passed and commits as soon as the block matches and the next
//    wildcard is reached, never revisiting an earlier wildcard. For the last block it keeps
//    sliding until the block also ends where the subject ends. In kPrefix mode the subject may
//    continue past the text, so reaching the end of the text (inside a block or a wildcard)
//    means some continuation matches; the same leftmost argument holds.
//  - Cost: while the loop works from one wildcard, each retry starts one unit further, so a
//    given (pattern token, text unit) pair is compared at most once per wildcard scope, and the
//    scopes cover disjoint token ranges. Hence at most |pattern| * |text| unit comparisons;
//    comparing a glob segment with a path segment costs |glob segment| * |path segment|, which
//    sums to O(|glob| * |path|) overall. No recursion, no allocation.

// Whether `pattern` (one glob segment other than `**`) matches `text` (kWhole), or matches some
// string that starts with `text` (kPrefix).
bool SegmentMatches(std::string_view pattern, std::string_view text, Mode mode) {
  size_t i = 0;           // next pattern character
  size_t j = 0;           // next text character
  size_t star_i = kNone;  // pattern offset just after the last `*` passed
  size_t star_j = 0;      // text offset where that `*`'s run currently ends
  while (j < text.size()) {
    if (i < pattern.size() && pattern[i] == '*') {
      star_i = ++i;
      star_j = j;
      continue;
    }
    if (i < pattern.size() && pattern[i] == text[j]) {
      ++i;
      ++j;
      continue;
    }
    if (star_i == kNone) {
      return false;
    }
    i = star_i;  // let the last `*` absorb one more character and retry from there
    j = ++star_j;
  }
  if (mode == Mode::kPrefix) {
    // The rest of the pattern can always be spelled out after the text (each `*` as nothing).
    return true;
  }
  while (i < pattern.size() && pattern[i] == '*') {
    ++i;
  }
  return i == pattern.size();
}

// Whether `glob` matches the '/'-separated units of `text`. In kPrefix mode the last unit of
// `text` is only the start of a segment (empty when `text` is empty or ends in '/'), and more
// segments may follow it.
bool GlobMatches(std::string_view glob, std::string_view text, Mode mode) {
  const size_t glob_end = glob.size() + 1;
  const size_t text_end = text.size() + 1;
  size_t g = 0;           // offset of the next glob segment
  size_t t = 0;           // offset of the next text unit
  size_t star_g = kNone;  // offset of the glob segment after the last `**` passed
  size_t star_t = 0;      // offset of the first text unit that `**` has not absorbed
  while (t < text_end) {
    const std::string_view unit = SegmentAt(text, t);
    const size_t next_t = t + unit.size() + 1;
    if (g < glob_end) {
      const std::string_view pattern = SegmentAt(glob, g);
      if (pattern == kAnySegments) {
        star_g = g + pattern.size() + 1;
        star_t = t;
        g = star_g;
        continue;
      }
      const Mode unit_mode =
          mode == Mode::kPrefix && next_t == text_end ? Mode::kPrefix : Mode::kWhole;
      if (SegmentMatches(pattern, unit, unit_mode)) {
        g += pattern.size() + 1;
        t = next_t;
        continue;
      }
    }
    if (star_g == kNone) {
      return false;
    }
    star_t += SegmentAt(text, star_t).size() + 1;  // `**` absorbs one more unit
    g = star_g;
    t = star_t;
  }
  if (mode == Mode::kPrefix) {
    // The rest of the glob can always be spelled out after the text (each `**` as nothing).
    return true;
  }
  while (g < glob_end && SegmentAt(glob, g) == kAnySegments) {
    g += kAnySegments.size() + 1;
  }
  return g >= glob_end;
}

}  // namespace

Status ValidatePathGlob(std::string_view glob) {
  if (glob.empty()) {
    return InvalidArgumentError("path glob must not be empty");
  }
  if (glob.size() > kMaxPathGlobLength) {
    return InvalidArgumentError(
        fmt::format("path glob is longer than {} characters", kMaxPathGlobLength));
  }
  size_t segments = 0;
  size_t segment_start = 0;
  for (size_t i = 0; i <= glob.size(); ++i) {
    if (i == glob.size() || glob[i] == '/') {
      const std::string_view segment = glob.substr(segment_start, i - segment_start);
      if (segment.empty()) {
        if (i == 0) {
          return InvalidArgumentError("path glob must not start with '/'");
        }
        if (i == glob.size()) {
          return InvalidArgumentError("path glob must not end with '/'");
        }
        return InvalidArgumentError("path glob must not contain an empty segment ('//')");
      }
      ++segments;
      if (segment != kAnySegments && segment.find(kAnySegments) != kNone) {
        return InvalidArgumentError(fmt::format(
            "path glob segment {} mixes '**' with other characters; '**' must be a whole segment",
            segments));
      }
      segment_start = i + 1;
      continue;
    }
    if (!IsPathChar(glob[i]) && glob[i] != '*') {
      const unsigned char c = static_cast<unsigned char>(glob[i]);
      if (c >= 0x21 && c < 0x7f) {
        return InvalidArgumentError(fmt::format(
            "path glob may contain only letters, digits, '-', '_', '*' and '/' (found '{}')",
            glob[i]));
      }
      return InvalidArgumentError(fmt::format(
          "path glob may contain only letters, digits, '-', '_', '*' and '/' (found byte 0x{:02x})",
          c));
    }
  }
  if (segments > kMaxPathGlobSegments) {
    return InvalidArgumentError(
        fmt::format("path glob has more than {} segments", kMaxPathGlobSegments));
  }
  return OkStatus();
}

bool PathGlobMatches(std::string_view glob, std::string_view path) {
  if (path.empty()) {
    return false;  // not a path; without this check `*` would match it as one empty segment
  }
  return GlobMatches(glob, path, Mode::kWhole);
}

bool PathGlobMayMatchPrefix(std::string_view glob, std::string_view prefix) {
  return GlobMatches(glob, prefix, Mode::kPrefix);
}

}  // namespace coffer
