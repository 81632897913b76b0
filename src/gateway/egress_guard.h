// EgressGuard: which remote addresses an outbound request may connect to. Refuses every address
// that reaches inside the deployment or is not a unicast Internet address — private (RFC 1918),
// carrier-grade NAT, loopback, link-local, unique-local, site-local, multicast, unspecified,
// reserved and documentation ranges, cloud metadata (169.254.169.254, fd00:ec2::254) — and the
// IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d,
// NAT64 64:ff9b::/96, 6to4 2002::/16) when the IPv4 address is refused. An operator's allow-list
// of CIDR blocks overrides the refusal (tests need 127.0.0.1/32). Immutable, so thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/status.h"

namespace coffer::gateway {

// An address block: the first `bits` bits of `base` (IPv4 blocks are kept in the mapped form,
// bits + 96).
struct CidrBlock {
  IpAddress base;
  int bits = 0;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128). kInvalidArgument naming
// the text for anything else, or for host bits set past the prefix.
StatusOr<CidrBlock> ParseCidrBlock(std::string_view text);
// Canonical text of a block, as ParseCidrBlock reads it.
std::string FormatCidrBlock(const CidrBlock& block);
// Whether `address` lies in `block`.
bool BlockContains(const CidrBlock& block, const IpAddress& address);

class EgressGuard {
 public:
  explicit EgressGuard(std::vector<CidrBlock> allow = {}) : allow_(std::move(allow)) {}

  // Parses a comma-separated list of blocks (COFFER_EGRESS_ALLOW), spaces around items ignored.
  // kInvalidArgument naming the first bad item.
  static StatusOr<std::vector<CidrBlock>> ParseAllowList(std::string_view text);

  // Why `address` is refused ("loopback", "private (RFC 1918)", "cloud metadata", …), or nullopt
  // when any outbound request may connect to it. The allow-list is not consulted.
  static std::optional<std::string> ForbiddenRange(const IpAddress& address);

  // OK when `address` may be connected to: not forbidden, or inside the allow-list.
  // kPermissionDenied otherwise, saying which range and how the operator allows it.
  Status Check(const IpAddress& address) const;

  const std::vector<CidrBlock>& allow() const { return allow_; }

 private:
  std::vector<CidrBlock> allow_;
};

}  // namespace coffer::gateway
