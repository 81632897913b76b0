// The request target pieces of api_target.h, percent-encoded by PercentEncode
// (client/http_transport.h).
#include "client/api_target.h"

#include "client/http_transport.h"

namespace coffer::client {

std::string Id(std::string_view id) { return PercentEncode(id, /*keep_slash=*/false); }

void AddQuery(std::string& target, std::string_view name, std::string_view value) {
  if (value.empty()) {
    return;
  }
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += PercentEncode(value, /*keep_slash=*/false);
}

}  // namespace coffer::client
