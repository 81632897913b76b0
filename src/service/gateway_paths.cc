// The upstream path and query of a gateway call: normalised, refused, and the binding's own
// credential parameter taken out of what the caller sent.
#include "service/gateway_paths.h"

#include <cctype>

namespace coffer {
namespace {

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return (std::tolower(static_cast<unsigned char>(c)) - 'a') + 10;
}

}  // namespace

// The query without any parameter called `name` (compared after percent-decoding), so the
// caller cannot send a credential of its own in the binding's query parameter.
std::string DropQueryParam(std::string_view query, std::string_view name) {
  std::string out;
  for (size_t start = 0; start <= query.size();) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    const std::string_view key = pair.substr(0, pair.find('='));
    std::string decoded;
    for (size_t i = 0; i < key.size(); ++i) {
      if (key[i] == '%' && i + 2 < key.size() && IsHex(key[i + 1]) && IsHex(key[i + 2])) {
        decoded.push_back(static_cast<char>(HexValue(key[i + 1]) * 16 + HexValue(key[i + 2])));
        i += 2;
      } else {
        decoded.push_back(key[i] == '+' ? ' ' : key[i]);
      }
    }
    if (!pair.empty() && decoded != name) {
      if (!out.empty()) out.push_back('&');
      out.append(pair);
    }
    start = end + 1;
  }
  return out;
}

StatusOr<std::string> NormaliseUpstreamPath(std::string_view path) {
  if (path.starts_with("/")) path.remove_prefix(1);
  if (path.size() > 4096) return Err(InvalidArgumentError("path is too long"));
  std::string out;
  out.reserve(path.size());
  if (path.empty()) return out;
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    // Empty segments are kept only at the end ("v1/models/" is a path some APIs want).
    if (segment.empty() && end != path.size()) {
      return Err(InvalidArgumentError("path must not hold an empty segment ('//')"));
    }
    std::string decoded;
    for (size_t i = 0; i < segment.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(segment[i]);
      if (c <= 0x20 || c >= 0x7f || c == '#' || c == '?' || c == '\\') {
        return Err(InvalidArgumentError(
            "path must be printable ASCII without spaces, '#', '?' or '\\' (percent-encode "
            "them)"));
      }
      if (c == '%') {
        if (i + 2 >= segment.size() || !IsHex(segment[i + 1]) || !IsHex(segment[i + 2])) {
          return Err(InvalidArgumentError("path has a malformed percent-escape"));
        }
        const int v = HexValue(segment[i + 1]) * 16 + HexValue(segment[i + 2]);
        if (v < 0x20 || v == 0x7f || v == '/' || v == '\\') {
          return Err(InvalidArgumentError("path must not encode '/', '\\' or control characters"));
        }
        decoded.push_back(static_cast<char>(v));
        i += 2;
      } else {
        decoded.push_back(static_cast<char>(c));
      }
    }
    if (decoded == "." || decoded == "..") {
      return Err(InvalidArgumentError("path must not hold '.' or '..' segments"));
    }
    if (!out.empty() || start > 0) out.push_back('/');
    out += segment;
    start = end + 1;
    if (end == path.size()) break;
  }
  return out;
}

Status ValidateUpstreamQuery(std::string_view query) {
  if (query.size() > 8192) return InvalidArgumentError("query is too long");
  for (unsigned char c : query) {
    if (c <= 0x20 || c >= 0x7f || c == '#') {
      return InvalidArgumentError(
          "query must be printable ASCII without spaces or '#' (percent-encode them)");
    }
  }
  return OkStatus();
}

}  // namespace coffer
