// SHA-256 of byte strings (OpenSSL), for the audit hash chain.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace coffer {

using Sha256Digest = std::array<uint8_t, 32>;

// Digest of the concatenation of `parts`. Thread-safe.
Sha256Digest Sha256(std::initializer_list<std::span<const uint8_t>> parts);

std::string HexEncode(std::span<const uint8_t> bytes);

}  // namespace coffer
