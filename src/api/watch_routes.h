// Long polls of the secrets API: GET …/secrets/{path}?wait=&after_version= and
// GET …/secrets?prefix=&wait=&since=, answered when the secret (or a secret under the prefix)
// changes, or 304 Not Modified when the wait runs out. docs/watch.md describes them.
#pragma once

#include <optional>
#include <string>

#include "api/handler.h"
#include "service/audit_log.h"
#include "service/secret_service.h"

namespace coffer::api {

// The longest a request may wait, in seconds.
inline constexpr int64_t kMaxWaitSeconds = 300;

// The answer of a plain read: built in wiped memory, marked so the server wipes the body too
// (secret_routes.cc).
http::Response ValueResponse(const SecretValue& secret);
// The answer of a listing, with `cursor` when given (secret_routes.cc).
http::Response ListPageResponse(const SecretListPage& page, std::optional<std::string> cursor);

// Whether the request asks to wait (has a `wait` query parameter).
bool AsksToWait(const http::Request& request);

// GET …/secrets/{path}?wait=SECONDS&after_version=N: the value of the latest readable version
// once it is newer than N (at once if it already is), as a plain read answers it (counted,
// audited as secret.read); or 304 when `wait` runs out (the wait is audited as secret.watch).
StatusOr<http::Response> WatchSecret(SecretService& secrets, AuditLog& audit,
                                     const http::Request& request, const http::RouteParams& params,
                                     const RequestContext& ctx);

// GET …/secrets?prefix=P&wait=SECONDS&since=CURSOR: the listing (as without `wait`, first page,
// with its `cursor`) once it differs from the one CURSOR names (at once without `since`, or if
// it already differs); or 304 when `wait` runs out.
StatusOr<http::Response> WatchSecretList(SecretService& secrets, const http::Request& request,
                                         const http::RouteParams& params,
                                         const RequestContext& ctx);

}  // namespace coffer::api
