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

// The client's address, in canonical text form when it comes from X-Forwarded-For. When the
// socket peer is a trusted proxy, every X-Forwarded-For line of the request, in the order
// received, forms one list (RFC 9110 §5.3) that is walked from the right: the first address
// that is not a trusted proxy is the client. An entry that is not an IP address stops the walk
// and the last trusted hop is the client (the peer itself when the right-most entry is
// garbage), so nothing a client writes chooses its address. Thread-safe.
std::string ClientIp(const Request& request, const TrustedProxies& trusted);

}  // namespace coffer::http
