// The client address of a request: the socket peer, or — only when the peer is a trusted
// proxy — the right-most X-Forwarded-For address that is not itself a trusted proxy.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/message.h"

namespace coffer::http {

class TrustedProxies {
 public:
  // A comma-separated list of addresses and CIDR blocks ("127.0.0.1, 10.0.0.0/8, ::1").
  // kInvalidArgument naming the entry at fault.
  static StatusOr<TrustedProxies> Parse(std::string_view list);

  bool empty() const { return networks_.empty(); }
  // Whether `ip` (textual IPv4 or IPv6) lies in one of the networks.
  bool Contains(std::string_view ip) const;

 private:
  struct Network {
    std::array<uint8_t, 16> address{};  // IPv4 as ::ffff:a.b.c.d
    int prefix_bits = 128;
  };
  std::vector<Network> networks_;
};

std::string ClientIp(const Request& request, const TrustedProxies& trusted);

}  // namespace coffer::http
