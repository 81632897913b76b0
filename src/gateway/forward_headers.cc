// The request and response header filters of the gateway.
#include "gateway/forward_headers.h"

#include <fmt/format.h>

#include <algorithm>

#include "gateway/text_encoding.h"

namespace coffer::gateway {

namespace {

bool IsTokenChar(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// The lower-cased names a Connection header lists ("close, X-Foo" → close, x-foo).
std::vector<std::string> ConnectionNames(const HeaderList& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    if (AsciiLower(name) != "connection") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty()) names.push_back(AsciiLower(item));
    }
  }
  return names;
}

bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive",        "te",
                                                "trailer",    "transfer-encoding", "upgrade"};
  return std::ranges::find(kNames, name) != std::end(kNames) || name.starts_with("proxy-");
}

bool Listed(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

}  // namespace

Status CheckHeaderText(std::string_view name, std::string_view value) {
  if (name.empty()) return InvalidArgumentError("a header name is empty");
  if (!std::ranges::all_of(name,
                           [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); })) {
    return InvalidArgumentError("a header name holds a character not allowed in it");
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return InvalidArgumentError(
        fmt::format("the value of header {} holds CR, LF or NUL", AsciiLower(name)));
  }
  return OkStatus();
}

StatusOr<HeaderList> FilterRequestHeaders(const HeaderList& headers) {
  static constexpr std::string_view kDropped[] = {"authorization",
                                                  "proxy-authorization",
                                                  "x-api-key",
                                                  "cookie",
                                                  "host",
                                                  "content-length",
                                                  "transfer-encoding",
                                                  "connection",
                                                  "keep-alive",
                                                  "te",
                                                  "trailer",
                                                  "upgrade",
                                                  "expect",
                                                  "accept-encoding",
                                                  "forwarded"};
  for (const auto& [name, value] : headers) RETURN_IF_ERROR(CheckHeaderText(name, value));
  const std::vector<std::string> listed = ConnectionNames(headers);
  HeaderList out;
  out.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    std::string lower = AsciiLower(name);
    if (std::ranges::find(kDropped, lower) != std::end(kDropped) || lower.starts_with("proxy-") ||
        lower.starts_with("x-forwarded-") || Listed(listed, lower)) {
      continue;
    }
    out.emplace_back(std::move(lower), value);
  }
  return out;
}

HeaderList FilterResponseHeaders(const HeaderList& headers,
                                 std::span<const std::string> pass_list) {
  const std::vector<std::string> listed = ConnectionNames(headers);
  HeaderList out;
  for (const auto& [name, value] : headers) {
    std::string lower = AsciiLower(name);
    if (lower == "set-cookie" || lower == "set-cookie2" || lower == "content-length" ||
        IsHopByHop(lower) || Listed(listed, lower) || !CheckHeaderText(lower, value).ok()) {
      continue;
    }
    const bool passed = std::ranges::any_of(pass_list, [&lower](const std::string& entry) {
      if (entry.ends_with('*')) {
        return lower.starts_with(std::string_view(entry).substr(0, entry.size() - 1));
      }
      return lower == entry;
    });
    if (passed) out.emplace_back(std::move(lower), value);
  }
  return out;
}

}  // namespace coffer::gateway
