// AsBytes: text viewed as the bytes it is made of, for the functions that take
// std::span<const uint8_t> (AEAD, HMAC, hashing). A view: `s` must outlive it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace coffer {

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace coffer
