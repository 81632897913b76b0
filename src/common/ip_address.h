// IPv4 and IPv6 addresses in one 16-byte form (IPv4 mapped into ::ffff:0:0/96, so both families
// compare alike), parsed and written with inet_pton/inet_ntop, and prefix (CIDR) comparison.
// Shared by the client address of a request (http/client_ip.h) and policies' client-network
// conditions (model/policy_conditions.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coffer {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
  bool is_v4 = false;               // how to write it back
};

// A textual IPv4 or IPv6 address (without brackets); nullopt for anything else.
std::optional<IpAddress> ParseIpAddress(std::string_view text);

// Canonical text: "192.0.2.7", "2001:db8::1".
std::string FormatIpAddress(const IpAddress& address);

// Whether the first `bits` (0..128) bits of the 16-byte forms `a` and `b` agree.
bool SameIpPrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits);

}  // namespace coffer
