// Splits the byte stream `coffer mcp` reads on stdin into messages, one per line. Each byte is
// looked at once however the stream is cut into reads; a line over the size limit is not kept
// but skipped up to its newline and reported, so one huge line costs neither memory nor time.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "client/wiping_json.h"

namespace coffer::agent {

// The largest message `coffer mcp` accepts (a put_secret of the server's largest body, escaped).
inline constexpr size_t kMcpMaxMessageBytes = 8 << 20;

// Not thread-safe: one stream, fed in order.
class McpLineReader {
 public:
  struct Line {
    // The message without its newline (and a '\r' before it); valid only during the callback.
    // Empty when too_long.
    std::string_view text;
    // The line held more than max_line_bytes; its bytes were dropped.
    bool too_long = false;
  };
  // Gets each complete line; returns false to stop reading.
  using OnLine = std::function<bool(const Line&)>;

  explicit McpLineReader(size_t max_line_bytes = kMcpMaxMessageBytes) : max_(max_line_bytes) {}

  // Takes the next bytes of the stream and calls `on_line` for each line they complete (blank
  // lines are skipped). Returns false as soon as `on_line` does.
  bool Feed(std::string_view bytes, const OnLine& on_line);

  // The end of the stream: a last line without a newline is still a message.
  bool Finish(const OnLine& on_line);

 private:
  bool EndLine(const OnLine& on_line);

  const size_t max_;
  client::GrowingSecretBuffer pending_;  // the line so far (it may hold a secret value)
  bool skipping_ = false;                // the line so far is over the limit
};

}  // namespace coffer::agent
