// RFC 9457 problem details: the one table from Status codes to HTTP statuses, titles and stable
// `type` URIs, and the builders every error response goes through.
#pragma once

#include <string_view>

#include "common/status.h"
#include "http/message.h"

namespace coffer::http {

// `type` URIs look like "urn:coffer:problem:not-found"; they never change once published.
// The detail is the Status message (which by contract never holds a secret). For a 5xx the
// message also goes to Response::internal_cause, so the access log says why. The payload
// (common/status.h) refines the answer: a kUnavailable's storage fault names the type
// (storage-full, storage-read-only, storage-io-error), a kResourceExhausted's retry_after becomes
// a Retry-After header (whole seconds, rounded up).
Response ProblemFromStatus(const Status& status);

// A problem the HTTP layer itself raises (405, 413, 415, 431, …). `slug` becomes the type URI.
Response Problem(int http_status, std::string_view slug, std::string_view title,
                 std::string_view detail);

// The HTTP status a Status code maps to.
int HttpStatusFor(StatusCode code);

}  // namespace coffer::http
