// Parsing of the check-and-set conditions of a secret write (If-Match, If-None-Match, `cas`).
#include "api/check_and_set.h"

#include <fmt/format.h>

#include <charconv>
#include <string>
#include <string_view>

namespace coffer::api {
namespace {

// A strong entity tag naming a version: `"<n>"` with n a positive decimal integer.
std::optional<int64_t> ParseVersionTag(std::string_view tag) {
  if (tag.size() < 3 || tag.front() != '"' || tag.back() != '"') {
    return std::nullopt;
  }
  const std::string_view digits = tag.substr(1, tag.size() - 2);
  if (digits.front() == '0' || digits.front() == '+' || digits.front() == '-') {
    return std::nullopt;
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || v < 1) {
    return std::nullopt;
  }
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

StatusOr<std::optional<int64_t>> ExpectedLatestVersion(const http::Request& request,
                                                       std::optional<int64_t> cas) {
  const auto if_match = request.Header("if-match");
  const auto if_none_match = request.Header("if-none-match");
  if (if_match.has_value() && if_none_match.has_value()) {
    return Err(InvalidArgumentError("give If-Match or If-None-Match, not both"));
  }
  std::optional<int64_t> from_header;
  if (if_match.has_value()) {
    from_header = ParseVersionTag(Trim(*if_match));
    if (!from_header.has_value()) {
      return Err(InvalidArgumentError(
          "If-Match must be one version in double quotes, as the ETag of a read gives it "
          "(e.g. \"3\")"));
    }
  }
  if (if_none_match.has_value()) {
    if (Trim(*if_none_match) != "*") {
      return Err(InvalidArgumentError("If-None-Match must be * (write only if no secret exists)"));
    }
    from_header = 0;
  }
  if (cas.has_value() && *cas < 0) {
    return Err(InvalidArgumentError(
        "cas must be 0 (write only if no secret exists) or the latest version expected"));
  }
  if (cas.has_value() && from_header.has_value() && *cas != *from_header) {
    return Err(
        InvalidArgumentError(fmt::format("cas ({}) disagrees with the {} header", *cas,
                                         if_match.has_value() ? "If-Match" : "If-None-Match")));
  }
  return from_header.has_value() ? from_header : cas;
}

void SetVersionETag(http::Response& response, int64_t version) {
  response.headers.emplace_back("ETag", fmt::format("\"{}\"", version));
}

}  // namespace coffer::api
