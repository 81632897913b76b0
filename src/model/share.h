// A share link: a capability to read one pinned version of a secret, without an account, a
// bounded number of times before it expires. Plain record crossing the service/store boundary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace coffer {

// The only recipient type Coffer serves: whoever holds the link.
inline constexpr std::string_view kShareRecipientAnyoneWithLink = "anyone_with_link";

struct Share {
  std::string id;                   // UUID: names the share in listings and revocation
  std::vector<uint8_t> token_hmac;  // HMAC-SHA256(pepper, link token); the token is never stored
  std::string secret_id;            // the shared secret
  int64_t version = 0;              // the version shared: the latest readable one at creation
  std::string vault_id;             // of the secret; filled in by the store on reads
  std::string path;                 // of the secret; filled in by the store on reads
  std::string recipient_type = std::string(kShareRecipientAnyoneWithLink);
  UnixMicros expires_at = 0;
  int64_t max_access_count = 0;  // 0: any number of accesses until expires_at
  int64_t access_count = 0;      // successful accesses so far
  std::string created_by;        // principal id of the creator
  UnixMicros created_at = 0;
  std::optional<UnixMicros> revoked_at;
  std::vector<uint32_t> pepper_ids;  // the peppers token_hmac was made under, innermost first

  bool is_revoked() const { return revoked_at.has_value(); }
};

}  // namespace coffer
