// RFC 3339 timestamps: how Coffer renders and accepts times on the API.
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace coffer {

// "2026-02-18T12:00:00Z", or with ".ffffff" when the time has a fractional second.
std::string FormatRfc3339(UnixMicros t);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" ('t'/'z' and a space separator too).
// Returns kInvalidArgument naming what is wrong.
StatusOr<UnixMicros> ParseRfc3339(std::string_view text);

}  // namespace coffer
