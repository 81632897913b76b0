// The upstream path and query of a gateway call (service/gateway_service.h): what an agent may
// ask for after a binding's base_url, and the binding's credential parameter kept its own.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer {

// The upstream URL of a call is base_url + "/" + path (+ "?" + query). kInvalidArgument naming
// `path` for an empty or '.'/'..' segment ('//' inside), a control byte, a space, '#', '?',
// '\', a malformed percent-escape or one that encodes '/', '\' or a control character. The
// path returned is the normalised one (no leading '/'). Thread-safe.
StatusOr<std::string> NormaliseUpstreamPath(std::string_view path);
// kInvalidArgument naming `query` for '#', spaces or control bytes.
Status ValidateUpstreamQuery(std::string_view query);
// The query without any parameter called `name` (compared after percent-decoding), so the
// caller cannot send a credential of its own in the binding's query parameter.
std::string DropQueryParam(std::string_view query, std::string_view name);

}  // namespace coffer
