// Turns an origin-form request target ("/v1/x/a%2Fb?prefix=db") into the decoded path segments
// and query parameters the router sees. Shared by the server and the HTTP fuzz target, so the
// fuzzer exercises exactly what the server runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace coffer::http {

// Fills request.segments and request.query from `target` (percent-decoded). Returns a 400
// problem for a target the router must never see (malformed, or a NUL byte anywhere after
// decoding); request.segments/query may then hold a partial result. Thread-safe.
std::optional<Response> ParseRequestTarget(std::string_view target, Request& request);

// `s` with A-Z lowered (header names, which the router's Request keeps lower-cased).
std::string ToLowerAscii(std::string_view s);

}  // namespace coffer::http
