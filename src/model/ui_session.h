// A dashboard session (docs/dashboard.md): a person signed in with an API key, known to the
// browser only by an HttpOnly cookie. The store keeps the cookie's SHA-256, never the cookie.
#pragma once

#include <string>

#include "common/clock.h"

namespace coffer {

struct UiSession {
  std::string token_hash;     // hex SHA-256 of the cookie's value: the session's key
  std::string user_id;        // who signed in
  std::string credential_id;  // the API key signed in with: revoking it ends the session
  UnixMicros created_at = 0;
  UnixMicros expires_at = 0;  // absolute: the session ends then, used or not
};

}  // namespace coffer
