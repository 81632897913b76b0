// Loopback detection and the plain-HTTP listening rule.
#include "server/listen_check.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>
#include <string>

namespace coffer::server {

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") {
    return true;
  }
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) {
      return true;
    }
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      return v6.s6_addr[12] == 127;
    }
  }
  return false;
}

Status CheckListenSecurity(std::string_view host, std::string_view tls_cert,
                           std::string_view tls_key, bool insecure_listen) {
  if (tls_cert.empty() != tls_key.empty()) {
    return InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!tls_cert.empty() || insecure_listen || IsLoopbackHost(host)) {
    return OkStatus();
  }
  return FailedPreconditionError(fmt::format(
      "refusing to serve plain HTTP on {}, which is not a loopback address: API keys and secret "
      "values would cross the network unencrypted. Give --tls-cert and --tls-key to serve HTTPS, "
      "or --insecure-listen if a TLS-terminating proxy in front of Coffer reaches it over a "
      "private link",
      host));
}

}  // namespace coffer::server
