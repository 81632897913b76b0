// The policy glob matcher against a reference. Input: "<glob>\n<path>". When the glob and the path
// (resp. list prefix) are valid, PathGlobMatches (resp. PathGlobMayMatchPrefix) must give the
// same answer as a deliberately naive matcher written here: the glob is read as a regular
// expression over "/" + path (each plain segment "/seg" with `*` = [A-Za-z0-9_-]*, each `**` =
// (/[A-Za-z0-9_-]+)*), run as a set-of-states NFA; for a prefix, the question is whether some
// continuation that keeps the path valid reaches the accepting state (a search over the NFA
// times a two-state "valid path" automaton). Any disagreement is a crash. Also: ValidatePathGlob
// must accept exactly the documented grammar.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_env.h"
#include "model/path_glob.h"
#include "model/secret_path.h"

namespace {

using coffer::fuzz::Check;

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '/') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// The grammar of path_glob.h, the slow way.
bool RefValidGlob(std::string_view glob) {
  if (glob.empty() || glob.size() > coffer::kMaxPathGlobLength) {
    return false;
  }
  const auto segments = Split(glob);
  if (segments.size() > coffer::kMaxPathGlobSegments) {
    return false;
  }
  for (std::string_view seg : segments) {
    if (seg.empty()) {
      return false;
    }
    if (seg == "**") {
      continue;
    }
    for (size_t i = 0; i < seg.size(); ++i) {
      if (!IsPathChar(seg[i]) && seg[i] != '*') {
        return false;
      }
      if (seg[i] == '*' && i + 1 < seg.size() && seg[i + 1] == '*') {
        return false;
      }
    }
  }
  return true;
}

// A Thompson NFA for the glob's regular expression.
class GlobNfa {
 public:
  explicit GlobNfa(std::string_view glob) {
    for (std::string_view seg : Split(glob)) {
      if (seg == "**") {
        items_.push_back({Item::kGroup, 0});
        continue;
      }
      items_.push_back({Item::kChar, '/'});
      for (char c : seg) {
        items_.push_back(c == '*' ? Item{Item::kStar, 0} : Item{Item::kChar, c});
      }
    }
    end_ = items_.size();
    states_ = end_ + 1 + 2 * items_.size();
  }

  size_t end() const { return end_; }
  size_t states() const { return states_; }

  // Epsilon closure of `set` (a bitmap over states), in place.
  void Close(std::vector<bool>& set) const {
    std::vector<size_t> stack;
    for (size_t s = 0; s < states_; ++s) {
      if (set[s]) {
        stack.push_back(s);
      }
    }
    while (!stack.empty()) {
      const size_t s = stack.back();
      stack.pop_back();
      for (size_t next : Epsilon(s)) {
        if (!set[next]) {
          set[next] = true;
          stack.push_back(next);
        }
      }
    }
  }

  // The states reachable from `set` by consuming `c` (then closed).
  std::vector<bool> Step(const std::vector<bool>& set, char c) const {
    std::vector<bool> out(states_, false);
    for (size_t s = 0; s < states_; ++s) {
      if (!set[s]) {
        continue;
      }
      if (s < end_) {
        const Item& item = items_[s];
        if (item.kind == Item::kChar && item.c == c) {
          out[s + 1] = true;
        } else if (item.kind == Item::kStar && IsPathChar(c)) {
          out[s] = true;
        } else if (item.kind == Item::kGroup && c == '/') {
          out[G1(s)] = true;
        }
      } else if (s > end_) {
        const size_t item = (s - end_ - 1) / 2;
        if (IsPathChar(c)) {
          out[G2(item)] = true;  // from g1 or g2: one more segment character
        }
      }
    }
    Close(out);
    return out;
  }

  std::vector<bool> Start() const {
    std::vector<bool> set(states_, false);
    set[0] = true;
    Close(set);
    return set;
  }

  // The distinct characters worth trying as a continuation: '/', every literal, one other.
  std::string Alphabet() const {
    std::string out = "/";
    for (const Item& item : items_) {
      if (item.kind == Item::kChar && out.find(item.c) == std::string::npos) {
        out.push_back(item.c);
      }
    }
    for (char c : std::string_view("xX0_-")) {
      if (out.find(c) == std::string::npos) {
        out.push_back(c);
        break;
      }
    }
    return out;
  }

 private:
  struct Item {
    enum Kind { kChar, kStar, kGroup } kind;
    char c;
  };
  // States: 0..end_ "before item i" (end_ accepts); G1(i) "in a ** group, after its '/'";
  // G2(i) "in a ** group, after at least one segment character".
  size_t G1(size_t item) const { return end_ + 1 + 2 * item; }
  size_t G2(size_t item) const { return end_ + 2 + 2 * item; }

  std::vector<size_t> Epsilon(size_t s) const {
    if (s < end_) {
      if (items_[s].kind == Item::kStar || items_[s].kind == Item::kGroup) {
        return {s + 1};  // `*` may match nothing; `**` may repeat zero more times
      }
      return {};
    }
    if (s > end_ && (s - end_ - 1) % 2 == 1) {
      return {(s - end_ - 1) / 2};  // a finished group segment: back before the group
    }
    return {};
  }

  std::vector<Item> items_;
  size_t end_ = 0;
  size_t states_ = 0;
};

bool RefMatches(std::string_view glob, std::string_view path) {
  const GlobNfa nfa(glob);
  std::vector<bool> set = nfa.Start();
  for (char c : "/" + std::string(path)) {
    set = nfa.Step(set, c);
  }
  return set[nfa.end()];
}

// Whether some s makes prefix+s a valid path (limits aside) that the glob matches.
bool RefMayMatchPrefix(std::string_view glob, std::string_view prefix) {
  const GlobNfa nfa(glob);
  std::vector<bool> set = nfa.Start();
  for (char c : "/" + std::string(prefix)) {
    set = nfa.Step(set, c);
  }
  // Valid-path automaton: 0 = at the start or after '/', needs a path character; 1 = inside a
  // segment (accepting).
  const int valid = prefix.empty() || prefix.back() == '/' ? 0 : 1;
  const size_t n = nfa.states();
  std::vector<bool> seen(2 * n, false);
  std::vector<size_t> queue;
  for (size_t s = 0; s < n; ++s) {
    if (set[s]) {
      seen[s * 2 + valid] = true;
      queue.push_back(s * 2 + valid);
    }
  }
  const std::string alphabet = nfa.Alphabet();
  while (!queue.empty()) {
    const size_t node = queue.back();
    queue.pop_back();
    const size_t s = node / 2;
    const int v = static_cast<int>(node % 2);
    if (s == nfa.end() && v == 1) {
      return true;
    }
    std::vector<bool> one(n, false);
    one[s] = true;
    for (char c : alphabet) {
      int next_v;
      if (c == '/') {
        if (v == 0) {
          continue;  // "//" or a leading '/'
        }
        next_v = 0;
      } else {
        next_v = 1;
      }
      const std::vector<bool> next = nfa.Step(one, c);
      for (size_t t = 0; t < n; ++t) {
        if (next[t] && !seen[t * 2 + next_v]) {
          seen[t * 2 + next_v] = true;
          queue.push_back(t * 2 + next_v);
        }
      }
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view glob = input.substr(0, newline);
  const std::string_view path = newline == std::string_view::npos ? "" : input.substr(newline + 1);

  const bool glob_ok = coffer::ValidatePathGlob(glob).ok();
  Check(glob_ok == RefValidGlob(glob), "ValidatePathGlob disagrees with the grammar");
  if (!glob_ok) {
    return 0;
  }
  if (coffer::ValidateSecretPath(path).ok()) {
    Check(coffer::PathGlobMatches(glob, path) == RefMatches(glob, path),
          "PathGlobMatches disagrees with the reference matcher");
  }
  if (coffer::ValidateSecretPrefix(path).ok()) {
    const bool may = coffer::PathGlobMayMatchPrefix(glob, path);
    Check(may == RefMayMatchPrefix(glob, path),
          "PathGlobMayMatchPrefix disagrees with the reference matcher");
    // Consistency between the two: a path the glob matches is reachable from each of its
    // prefixes.
    if (!path.empty() && path.back() != '/' && coffer::PathGlobMatches(glob, path)) {
      for (size_t cut = 0; cut <= path.size(); ++cut) {
        if (coffer::ValidateSecretPrefix(path.substr(0, cut)).ok()) {
          Check(coffer::PathGlobMayMatchPrefix(glob, path.substr(0, cut)),
                "a prefix of a matching path is said to match nothing");
        }
      }
    }
  }
  return 0;
}
