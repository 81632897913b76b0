// What every libcurl transfer of gateway/ shares: one process-wide initialisation, the options
// that keep an outbound request safe (http/https only, no redirects, no proxy from the
// environment, TLS verified) and the open-socket callback that checks the EgressGuard on the
// address libcurl is about to connect to, after name resolution, so a DNS answer that changes
// between a check and the connection cannot slip past it. Internal to gateway/.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gateway/egress_guard.h"

namespace coffer::gateway {

// The state of the open-socket callback of one transfer: the guard, and the last refusal (so a
// failed connection can be reported as the guard's kPermissionDenied).
struct SocketGuard {
  const EgressGuard* guard = nullptr;
  std::optional<Status> refused;
};

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
// Wipes every line (they may carry a credential) before freeing the list.
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const;
};
using CurlHeaderList = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// curl_global_init, once per process. Thread-safe.
void InitCurlOnce();

// Sets on `c`: no signals, protocols https (and http when `allow_http`), no redirects, no proxy
// (neither CURLOPT_PROXY nor the environment's), TLS peer and host verified, and the open-socket
// callback checking `socket_guard->guard`. `socket_guard` must outlive the transfer.
void SetSafeTransferOptions(CURL* c, bool allow_http, SocketGuard* socket_guard);

// A header list of "name: value" lines ("name;" for an empty value, which libcurl would
// otherwise read as "remove the header"), then the `extra` lines as they are.
// kInternal when memory runs out.
StatusOr<CurlHeaderList> BuildCurlHeaderList(
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::vector<std::string_view>& extra = {});

// The host named by an absolute URL ("api.example.com", "127.0.0.1"), for error messages that
// must not repeat the path or query; "the upstream" when it cannot be read.
std::string HostOfUrl(std::string_view url);

}  // namespace coffer::gateway
