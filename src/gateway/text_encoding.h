// The encodings a credential goes through on its way out (Basic authorization, a query
// parameter) and the ones an upstream might echo it back in (base64, percent-encoding, a JSON
// string), for credential.h and redactor.h; and the lower-casing of header names. Pure
// functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace coffer::gateway {

enum class Base64Alphabet { kStandard, kUrlSafe };

// RFC 4648 base64 of `bytes`, with "=" padding when `pad`.
std::string Base64Encode(std::string_view bytes,
                         Base64Alphabet alphabet = Base64Alphabet::kStandard, bool pad = true);

// RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~) kept, every other byte
// as %XX, upper-case hex unless `lower_hex`.
std::string PercentEncode(std::string_view bytes, bool lower_hex = false);

// The text of a JSON string literal holding `text`, without the quotes: ", \ and control
// characters escaped (\n, \t, … or \u00XX); "/" as "\/" when `escape_slash`.
std::string JsonEscape(std::string_view text, bool escape_slash = false);

// `text` with A-Z turned to a-z (header names), other bytes as they are.
std::string AsciiLower(std::string_view text);

}  // namespace coffer::gateway
