// Which headers cross the gateway. Going out: the caller's own, less what authenticates the
// caller to Coffer (its key must not reach the upstream), what belongs to one hop, and what
// would let the caller steer the upstream connection or the redaction. Coming back: only the
// names the binding passes, never a cookie or a hop-by-hop field. Pure functions, thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace coffer::gateway {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The response headers a binding passes when its config names none.
inline constexpr std::string_view kDefaultPassResponseHeaders[] = {
    "content-type", "cache-control", "x-request-id", "retry-after",
    "openai-*",     "anthropic-*",   "x-ratelimit-*"};

// OK when `name` is a non-empty HTTP token (RFC 9110 tchar) and `value` holds no CR, LF or NUL.
// kInvalidArgument naming the header (never repeating its value) otherwise.
Status CheckHeaderText(std::string_view name, std::string_view value);

// The caller's request headers to send upstream, names lower-cased, order kept. Dropped:
// authorization, proxy-authorization, x-api-key, cookie, host, content-length,
// transfer-encoding, connection and every name its value lists, keep-alive, te, trailer,
// upgrade, expect, accept-encoding (an encoded answer could not be redacted), proxy-*,
// x-forwarded-*, forwarded. kInvalidArgument (CheckHeaderText) when any name or value is
// malformed, dropped or not: a request carrying one is refused whole.
StatusOr<HeaderList> FilterRequestHeaders(const HeaderList& headers);

// The upstream's response headers to pass back, names lower-cased: only those `pass_list`
// names (lower-case; an entry ending in "*" names every header starting with what precedes
// it), never set-cookie, set-cookie2, content-length (the body is re-framed and redacted), a
// hop-by-hop field (connection and the names it lists, keep-alive, te, trailer,
// transfer-encoding, upgrade, proxy-*) nor a header CheckHeaderText refuses.
HeaderList FilterResponseHeaders(const HeaderList& headers, std::span<const std::string> pass_list);

}  // namespace coffer::gateway
