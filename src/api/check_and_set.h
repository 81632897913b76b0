// Check-and-set on secret writes: what a PUT's If-Match / If-None-Match headers and `cas` body
// field ask for, and the ETag every answer naming one version carries.
#pragma once

#include <cstdint>
#include <optional>

#include "common/status.h"
#include "http/message.h"

namespace coffer::api {

// The latest version a write expects (0: only create), from `If-Match: "<n>"`,
// `If-None-Match: *` and the body's `cas` (nullopt: none given); nullopt when none asks for a
// check. kInvalidArgument naming the header or field when one is malformed, when both headers
// are given, or when a header and `cas` disagree.
StatusOr<std::optional<int64_t>> ExpectedLatestVersion(const http::Request& request,
                                                       std::optional<int64_t> cas);

// Adds `ETag: "<version>"`.
void SetVersionETag(http::Response& response, int64_t version);

}  // namespace coffer::api
