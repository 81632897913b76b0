// API keys and rotation secrets: `cfr_<kind>_<public id>_<secret>_<crc>` where kind is a short
// lowercase word ("key", "rot"), public id 12 base62 chars, secret 43 base62 chars (>= 256 bits),
// crc the CRC-32 of everything before it as 6 base62 chars, so secret scanners can recognise a
// leaked token and typos are caught before any lookup. The store keeps only the public id and
// HMAC-SHA256(pepper, secret).
//
// Agent API keys are minted as `ocv_<public id>_<secret>_<crc>`: the prefix by which the seeds'
// clients tell an agent key from a user's, the same parts and checksum, and kind "key" implied.
// Agent keys minted before (`cfr_key_…`) parse and verify as they always did.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

inline constexpr std::string_view kTokenKindApiKey = "key";
inline constexpr std::string_view kTokenKindRotation = "rot";

struct MintedToken {
  SecretBuffer token;  // the whole string, shown to its owner once
  std::string public_id;
  std::vector<uint8_t> secret_hmac;
};

struct ParsedToken {
  std::string kind;
  std::string public_id;
  SecretBuffer secret;
  bool agent_key_form = false;  // written `ocv_…`: only an agent's API key may be
};

// kInternal if randomness or HMAC fails.
StatusOr<MintedToken> MintToken(std::string_view kind, const SecretBuffer& pepper, Random& random);

// An agent API key, `ocv_<public id>_<secret>_<crc>` (kind "key"). kInternal as MintToken.
StatusOr<MintedToken> MintAgentApiKey(const SecretBuffer& pepper, Random& random);

// Checks shape and checksum. kUnauthenticated "malformed credential" otherwise (never echoing
// the input).
StatusOr<ParsedToken> ParseToken(std::string_view token);

// True when the string has a token's prefix, `cfr_` or `ocv_` (used to tell API keys from JWTs).
bool LooksLikeToken(std::string_view token);

// HMAC-SHA256(pepper, secret).
std::vector<uint8_t> HmacSecret(const SecretBuffer& pepper, std::string_view secret);

}  // namespace coffer
