// Pieces of the request targets of the Coffer API: an id as one percent-encoded path segment, and
// query parameters. Only the coffer_client*.cc files include this header.
#pragma once

#include <string>
#include <string_view>

namespace coffer::client {

// `id` percent-encoded as one path segment ('/' included).
std::string Id(std::string_view id);

// Appends `name`=`value` to `target` as a query parameter, the value percent-encoded; nothing
// when `value` is empty.
void AddQuery(std::string& target, std::string_view name, std::string_view value);

}  // namespace coffer::client
