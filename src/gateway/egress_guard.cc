// EgressGuard's tables: the IPv4 and IPv6 ranges no outbound request may reach, and how the IPv6
// forms that embed an IPv4 address are unwrapped before the IPv4 table is consulted.
#include "gateway/egress_guard.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdint>

namespace coffer::gateway {

namespace {

struct Range {
  const char* cidr;
  const char* why;
};

// Checked in order: the first match names the reason.
constexpr Range kForbiddenV4[] = {
    {"169.254.169.254/32", "cloud metadata"},
    {"0.0.0.0/8", "unspecified (\"this network\")"},
    {"10.0.0.0/8", "private (RFC 1918)"},
    {"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"},
    {"172.16.0.0/12", "private (RFC 1918)"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.0.2.0/24", "documentation"},
    {"192.88.99.0/24", "6to4 relay anycast"},
    {"192.168.0.0/16", "private (RFC 1918)"},
    {"198.18.0.0/15", "benchmarking"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},  // includes 255.255.255.255, broadcast
};

constexpr Range kForbiddenV6[] = {
    {"fd00:ec2::254/128", "cloud metadata"},
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"100::/64", "discard-only"},
    {"2001:db8::/32", "documentation"},
    {"fc00::/7", "unique-local"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local"},
    {"ff00::/8", "multicast"},
};

// The IPv4 address an IPv6 address carries, and the form's name: IPv4-mapped (::ffff:0:0/96),
// IPv4-compatible (::/96, but not :: and ::1), NAT64 (64:ff9b::/96), 6to4 (2002::/16).
std::optional<std::pair<IpAddress, const char*>> EmbeddedV4(const IpAddress& a) {
  const auto& b = a.bytes;
  auto v4 = [](const uint8_t* p) {
    IpAddress out;
    out.is_v4 = true;
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    for (int i = 0; i < 4; ++i) out.bytes[12 + i] = p[i];
    return out;
  };
  auto zeros = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      if (b[i] != 0) return false;
    }
    return true;
  };
  if (zeros(0, 10) && b[10] == 0xff && b[11] == 0xff) {
    return std::pair{v4(&b[12]), "IPv4-mapped"};
  }
  if (zeros(0, 12) && !(zeros(12, 15) && b[15] <= 1)) {
    return std::pair{v4(&b[12]), "IPv4-compatible"};
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(4, 12)) {
    return std::pair{v4(&b[12]), "NAT64"};
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    return std::pair{v4(&b[2]), "6to4"};
  }
  return std::nullopt;
}

std::optional<std::string> LookUp(const IpAddress& address) {
  if (address.is_v4) {
    for (const Range& r : kForbiddenV4) {
      if (BlockContains(ParseCidrBlock(r.cidr).value(), address)) return std::string(r.why);
    }
    return std::nullopt;
  }
  for (const Range& r : kForbiddenV6) {
    if (BlockContains(ParseCidrBlock(r.cidr).value(), address)) return std::string(r.why);
  }
  return std::nullopt;
}

}  // namespace

StatusOr<CidrBlock> ParseCidrBlock(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Err(InvalidArgumentError(
        fmt::format("'{}' is not a CIDR block ({})", text.substr(0, 64), why)));
  };
  const size_t slash = text.find('/');
  auto address = ParseIpAddress(text.substr(0, slash));
  if (!address.has_value()) return bad("not an IPv4 or IPv6 address");
  const int max_bits = address->is_v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || bits < 0 ||
        bits > max_bits) {
      return bad(fmt::format("the prefix length must be 0 to {}", max_bits));
    }
  }
  CidrBlock block{*address, address->is_v4 ? bits + 96 : bits};
  for (int bit = block.bits; bit < 128; ++bit) {
    if ((block.base.bytes[bit / 8] >> (7 - bit % 8)) & 1) return bad("host bits are set");
  }
  return block;
}

std::string FormatCidrBlock(const CidrBlock& block) {
  return fmt::format("{}/{}", FormatIpAddress(block.base),
                     block.base.is_v4 ? block.bits - 96 : block.bits);
}

bool BlockContains(const CidrBlock& block, const IpAddress& address) {
  return SameIpPrefix(block.base.bytes, address.bytes, block.bits);
}

StatusOr<std::vector<CidrBlock>> EgressGuard::ParseAllowList(std::string_view text) {
  std::vector<CidrBlock> blocks;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      ASSIGN_OR_RETURN(CidrBlock block, ParseCidrBlock(item));
      blocks.push_back(block);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return blocks;
}

std::optional<std::string> EgressGuard::ForbiddenRange(const IpAddress& address) {
  if (auto why = LookUp(address); why.has_value()) return why;
  if (!address.is_v4) {
    if (auto embedded = EmbeddedV4(address); embedded.has_value()) {
      if (auto why = LookUp(embedded->first); why.has_value()) {
        return fmt::format("{} ({} form of {})", *why, embedded->second,
                           FormatIpAddress(embedded->first));
      }
    }
  }
  return std::nullopt;
}

Status EgressGuard::Check(const IpAddress& address) const {
  const std::optional<std::string> why = ForbiddenRange(address);
  if (!why.has_value()) return OkStatus();
  for (const CidrBlock& block : allow_) {
    if (BlockContains(block, address)) return OkStatus();
  }
  return PermissionDeniedError(
      fmt::format("connecting to {} is refused: a {} address (an operator may allow a range with "
                  "--egress-allow CIDR or COFFER_EGRESS_ALLOW)",
                  FormatIpAddress(address), *why));
}

}  // namespace coffer::gateway
