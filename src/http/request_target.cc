// Request-target decoding with Boost.URL (origin form only).
#include "http/request_target.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <string>
#include <unordered_set>
#include <utility>

#include "http/problem_json.h"

namespace coffer::http {

namespace {

Response BadTarget(std::string_view detail) {
  return Problem(400, "bad-request", "Bad request", detail);
}

// A parameter name as shown in an error: bounded, control and non-ASCII bytes masked.
std::string Shown(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return out;
}

}  // namespace

std::optional<Response> ParseRequestTarget(std::string_view target, Request& request) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed.has_value()) {
    return BadTarget("malformed request target");
  }
  const boost::urls::url_view& url = parsed.value();
  for (std::string segment : url.segments()) {
    if (segment.find('\0') != std::string::npos) {
      return BadTarget("request path contains a NUL byte");
    }
    request.segments.push_back(std::move(segment));
  }
  for (auto param : url.params()) {
    if (param.key.find('\0') != std::string::npos || param.value.find('\0') != std::string::npos) {
      return BadTarget("query contains a NUL byte");
    }
    request.query.emplace_back(std::move(param.key), std::move(param.value));
  }
  // A repeated parameter is refused, like a repeated JSON key: routes read the first, while a
  // proxy or a log reader may act on the last, so `?prefix=a&prefix=b` is not guessed at.
  std::unordered_set<std::string_view> seen;
  for (const auto& [name, value] : request.query) {
    if (!seen.insert(name).second) {
      return BadTarget(fmt::format("query parameter \"{}\" is given more than once", Shown(name)));
    }
  }
  return std::nullopt;
}

std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace coffer::http
