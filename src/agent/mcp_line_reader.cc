// Newline framing for `coffer mcp`: a single pass over each read, a bound on a line's size.
#include "agent/mcp_line_reader.h"

#include <cstring>

namespace coffer::agent {

bool McpLineReader::Feed(std::string_view bytes, const OnLine& on_line) {
  while (!bytes.empty()) {
    const void* newline = std::memchr(bytes.data(), '\n', bytes.size());
    const size_t end = newline != nullptr
                           ? static_cast<size_t>(static_cast<const char*>(newline) - bytes.data())
                           : bytes.size();
    if (!skipping_) {
      if (pending_.size() + end > max_) {
        skipping_ = true;
        pending_.Clear();
      } else {
        pending_.Append(bytes.data(), end);
      }
    }
    if (newline == nullptr) return true;
    bytes.remove_prefix(end + 1);
    if (!EndLine(on_line)) return false;
  }
  return true;
}

bool McpLineReader::Finish(const OnLine& on_line) {
  if (!skipping_ && pending_.size() == 0) return true;
  return EndLine(on_line);
}

bool McpLineReader::EndLine(const OnLine& on_line) {
  if (skipping_) {
    skipping_ = false;
    return on_line(Line{.text = {}, .too_long = true});
  }
  std::string_view text = pending_.view();
  if (text.ends_with('\r')) text.remove_suffix(1);
  bool go_on = true;
  if (text.find_first_not_of(" \t") != std::string_view::npos) {
    go_on = on_line(Line{.text = text, .too_long = false});
  }
  pending_.Clear();
  return go_on;
}

}  // namespace coffer::agent
