// The rule for where plain HTTP may listen: credentials and secret values cross the wire, so
// without TLS the server binds only to loopback unless the operator says otherwise.
#pragma once

#include <string_view>

#include "common/status.h"

namespace coffer::server {

// Whether `host` (as given to --listen, brackets removed) is a loopback address or "localhost".
bool IsLoopbackHost(std::string_view host);

// OK when TLS is on, the host is loopback, or `insecure_listen` is set; otherwise
// kFailedPrecondition with a message saying what to do. Also refuses half a TLS configuration
// (a certificate without a key or the reverse) with kInvalidArgument.
Status CheckListenSecurity(std::string_view host, std::string_view tls_cert,
                           std::string_view tls_key, bool insecure_listen);

}  // namespace coffer::server
