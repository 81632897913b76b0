// Trusted proxy networks and the client address behind them (common/ip_address.h); no Asio.
#include "http/client_ip.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <optional>

#include "common/ip_address.h"

namespace coffer::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An address as a peer or X-Forwarded-For writes it: an IPv6 one may be in brackets ("[::1]").
std::optional<IpAddress> ParseHostAddress(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  return ParseIpAddress(text);
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
    const std::optional<IpAddress> parsed = ParseHostAddress(address);
    if (!parsed.has_value()) {
      return Err(
          InvalidArgumentError(fmt::format("trusted proxy '{}' is not an IP address", entry)));
    }
    const bool v4 = parsed->is_v4;
    const int max = v4 ? 32 : 128;
    const int prefix = bits.value_or(max);
    if (prefix < 0 || prefix > max) {
      return Err(
          InvalidArgumentError(fmt::format("trusted proxy '{}': prefix out of range", entry)));
    }
    result.networks_.push_back(Network{parsed->bytes, v4 ? prefix + 96 : prefix});
  }
  return result;
}

bool TrustedProxies::Contains(std::string_view ip) const {
  const std::optional<IpAddress> parsed = ParseHostAddress(Trim(ip));
  if (!parsed.has_value()) return false;
  for (const Network& n : networks_) {
    if (SameIpPrefix(parsed->bytes, n.address, n.prefix_bits)) return true;
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
    const std::optional<IpAddress> address = ParseHostAddress(*it);
    if (!address.has_value()) return candidate;
    candidate = FormatIpAddress(*address);
    if (!trusted.Contains(candidate)) return candidate;
  }
  return candidate;
}

}  // namespace coffer::http
