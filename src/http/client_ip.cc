// Address parsing and CIDR matching with inet_pton; no Asio.
#include "http/client_ip.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <optional>

namespace coffer::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// IPv4 addresses map into ::ffff:0:0/96 so both families compare in one form.
std::optional<std::array<uint8_t, 16>> ParseAddress(std::string_view text, bool* is_v4) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  std::array<uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    if (is_v4 != nullptr) *is_v4 = true;
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    if (is_v4 != nullptr) *is_v4 = false;
    return out;
  }
  return std::nullopt;
}

// The canonical text of a parsed address ("2001:db8::1", "192.0.2.7"), so one client has one
// spelling in the audit trail and one per-address rate-limit bucket.
std::string FormatAddress(const std::array<uint8_t, 16>& address, bool is_v4) {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_v4) {
    inet_ntop(AF_INET, address.data() + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, address.data(), text, sizeof(text));
  }
  return text;
}

}  // namespace

StatusOr<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies result;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view entry = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    std::string_view address = entry;
    std::optional<int> bits;
    if (const size_t slash = entry.find('/'); slash != std::string_view::npos) {
      address = entry.substr(0, slash);
      const std::string_view b = entry.substr(slash + 1);
      int value = -1;
      auto [ptr, ec] = std::from_chars(b.data(), b.data() + b.size(), value);
      if (ec != std::errc() || ptr != b.data() + b.size()) {
        return Err(
            InvalidArgumentError(fmt::format("trusted proxy '{}': bad prefix length", entry)));
      }
      bits = value;
    }
    bool v4 = false;
    auto parsed = ParseAddress(address, &v4);
    if (!parsed.has_value()) {
      return Err(
          InvalidArgumentError(fmt::format("trusted proxy '{}' is not an IP address", entry)));
    }
    const int max = v4 ? 32 : 128;
    const int prefix = bits.value_or(max);
    if (prefix < 0 || prefix > max) {
      return Err(
          InvalidArgumentError(fmt::format("trusted proxy '{}': prefix out of range", entry)));
    }
    result.networks_.push_back(Network{*parsed, v4 ? prefix + 96 : prefix});
  }
  return result;
}

bool TrustedProxies::Contains(std::string_view ip) const {
  auto parsed = ParseAddress(Trim(ip), nullptr);
  if (!parsed.has_value()) return false;
  for (const Network& n : networks_) {
    const int full = n.prefix_bits / 8;
    const int rest = n.prefix_bits % 8;
    if (std::memcmp(parsed->data(), n.address.data(), static_cast<size_t>(full)) != 0) continue;
    if (rest != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
      if (((*parsed)[full] & mask) != (n.address[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

std::string ClientIp(const Request& request, const TrustedProxies& trusted) {
  if (trusted.empty() || !trusted.Contains(request.peer_ip)) return request.peer_ip;
  // Several X-Forwarded-For lines are one list, joined in the order received (RFC 9110 §5.3):
  // a client's own line comes before the one its proxy appended, so all lines are taken
  // together before the walk from the right; judging each line alone would let the client's
  // line decide.
  std::vector<std::string_view> hops;
  for (const auto& [name, value] : request.headers) {
    if (name != "x-forwarded-for") continue;
    std::string_view rest = value;
    while (true) {
      const size_t comma = rest.find(',');
      hops.push_back(Trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  // Each hop was appended by the proxy after it, so the walk stops at the first one not a
  // trusted proxy. An entry that is not an address (empty, a port, a name, garbage) was not
  // written by a trusted proxy and cannot be believed, nor anything left of it: the client is
  // then the last trusted hop — the proxy that passed the garbage on.
  std::string candidate = request.peer_ip;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    bool v4 = false;
    const auto address = ParseAddress(*it, &v4);
    if (!address.has_value()) return candidate;
    candidate = FormatAddress(*address, v4);
    if (!trusted.Contains(candidate)) return candidate;
  }
  return candidate;
}

}  // namespace coffer::http
