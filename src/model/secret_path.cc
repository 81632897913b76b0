// Secret path validation.
#include "model/secret_path.h"

#include <fmt/format.h>

namespace coffer {
namespace {

bool IsSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

Status ValidateSegments(std::string_view path, std::string_view what) {
  size_t segments = 0;
  size_t seg_len = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (seg_len == 0) {
        if (i == 0) return InvalidArgumentError(fmt::format("{} must not start with '/'", what));
        if (i == path.size()) {
          return InvalidArgumentError(fmt::format("{} must not end with '/'", what));
        }
        return InvalidArgumentError(
            fmt::format("{} must not contain an empty segment ('//')", what));
      }
      ++segments;
      seg_len = 0;
      continue;
    }
    if (!IsSegmentChar(path[i])) {
      const unsigned char c = static_cast<unsigned char>(path[i]);
      if (c >= 0x21 && c < 0x7f) {
        return InvalidArgumentError(fmt::format(
            "{} may contain only letters, digits, '-', '_' and '/' (found '{}')", what, path[i]));
      }
      return InvalidArgumentError(fmt::format(
          "{} may contain only letters, digits, '-', '_' and '/' (found byte 0x{:02x})", what, c));
    }
    ++seg_len;
  }
  if (segments > kMaxSecretPathSegments) {
    return InvalidArgumentError(
        fmt::format("{} has more than {} segments", what, kMaxSecretPathSegments));
  }
  return OkStatus();
}

}  // namespace

Status ValidateSecretPath(std::string_view path) {
  if (path.empty()) return InvalidArgumentError("secret path must not be empty");
  if (path.size() > kMaxSecretPathLength) {
    return InvalidArgumentError(
        fmt::format("secret path is longer than {} characters", kMaxSecretPathLength));
  }
  return ValidateSegments(path, "secret path");
}

Status ValidateSecretPrefix(std::string_view prefix) {
  if (prefix.empty()) return OkStatus();
  if (prefix.size() > kMaxSecretPathLength) {
    return InvalidArgumentError(
        fmt::format("prefix is longer than {} characters", kMaxSecretPathLength));
  }
  if (prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty()) return InvalidArgumentError("prefix must not start with '/'");
  return ValidateSegments(prefix, "prefix");
}

}  // namespace coffer
