// Where a binding's credential goes in an outbound request: an Authorization header (bearer or
// Basic), a header of the operator's choosing, or a query parameter. The credential is kept
// apart from the request until this last step, which overwrites any header of the same name
// the caller left in. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace coffer::gateway {

struct AuthSpec {
  std::string type;         // "bearer" (also when empty), "basic", "header", "query"
  std::string header;       // for "header": the header's name
  std::string prefix;       // for "bearer" and "header": put before the secret ("Bearer ")
  std::string query_param;  // for "query": the parameter's name
  std::string basic_user;   // for "basic": the user; empty when the secret is "user:password"
};

// Attaches `secret` as `spec` says:
//   bearer: header "authorization" = prefix + secret
//   header: header `spec.header` (lower-cased) = prefix + secret
//   basic:  header "authorization" = "Basic " + base64(basic_user ":" secret), or
//           base64(secret) when basic_user is empty (the secret is then "user:password")
//   query:  "<query_param>=<percent-encoded secret>" appended to `url` after "?" or "&"
// Headers of the same name already in `headers` are removed first. kInvalidArgument (the
// message never holds the secret) for an unknown type, a missing or malformed header or
// parameter name, a secret with CR, LF or NUL placed in a header, an empty secret, or a Basic
// secret without ":" when basic_user is empty. On error nothing is changed.
Status AttachCredential(const AuthSpec& spec, std::string_view secret, std::string& url,
                        std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace coffer::gateway
