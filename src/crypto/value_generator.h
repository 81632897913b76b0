// Server-side generation of secret values for secret-rotate: uniform over the charset by
// rejection sampling, never biased by a modulo.
#pragma once

#include <optional>
#include <string_view>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

enum class Charset : uint8_t { kHex, kBase64, kAlphanumeric, kAscii };

inline constexpr size_t kMinGeneratedLength = 8;
inline constexpr size_t kMaxGeneratedLength = 1024;

std::optional<Charset> ParseCharset(std::string_view name);
// The characters of a charset: hex 0-9a-f; base64 A-Za-z0-9+/; alphanumeric A-Za-z0-9;
// ascii the 94 printable characters '!'..'~'.
std::string_view CharsetAlphabet(Charset charset);

// A value of `length` characters drawn uniformly from the charset. kInvalidArgument when the
// length is outside [8, 1024]; kInternal if randomness fails.
StatusOr<SecretBuffer> GenerateValue(Charset charset, size_t length, Random& random);

}  // namespace coffer
