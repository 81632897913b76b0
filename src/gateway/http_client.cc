// CurlHttpClient: one libcurl easy handle per request, the EgressGuard consulted from the
// open-socket callback with the address libcurl resolved, and libcurl's errors mapped to the
// codes HttpClient promises.
#include "gateway/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <optional>

namespace coffer::gateway {

namespace {

struct Transfer {
  const EgressGuard* guard = nullptr;
  std::optional<Status> refused;  // the last address the guard refused
  OutboundResponse response;
  size_t max_bytes = 0;
};

std::optional<IpAddress> AddressOf(const curl_sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) == nullptr) return std::nullopt;
  } else if (address->family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) == nullptr) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return ParseIpAddress(text);
}

curl_socket_t OpenSocket(void* data, curlsocktype purpose, curl_sockaddr* address) {
  auto* transfer = static_cast<Transfer*>(data);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const std::optional<IpAddress> ip = AddressOf(address);
  if (!ip.has_value()) {
    transfer->refused = PermissionDeniedError("connecting to a non-IP address is refused");
    return CURL_SOCKET_BAD;
  }
  if (Status s = transfer->guard->Check(*ip); !s.ok()) {
    transfer->refused = std::move(s);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const size_t room = transfer->max_bytes - transfer->response.body.size();
  if (n > room) {
    transfer->response.body.append(data, room);
    transfer->response.truncated = true;
    return 0;  // stops the transfer: the rest is not read
  }
  transfer->response.body.append(data, n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

bool HasPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  const CURLUcode rc = curl_url_get(url, part, &value, 0);
  const bool has = rc == CURLUE_OK && value != nullptr && value[0] != '\0';
  curl_free(value);
  return has;
}

}  // namespace

Status ValidateOutboundUrl(std::string_view url, bool allow_http) {
  if (url.empty()) return InvalidArgumentError("url is required");
  if (url.size() > 2048) return InvalidArgumentError("url is longer than 2048 bytes");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgumentError("url must not contain spaces or control characters");
    }
  }
  const bool https = url.starts_with("https://");
  const bool http = url.starts_with("http://");
  if (!https && !http) return InvalidArgumentError("url must start with https://");
  if (http && !allow_http) {
    return InvalidArgumentError(
        "url must use https:// (plain http:// is allowed only when the server runs with "
        "--webhook-allow-http)");
  }
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed) return InternalError("cannot allocate a URL parser");
  const std::string text(url);
  if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return InvalidArgumentError("url is not a valid absolute URL");
  }
  if (!HasPart(parsed.get(), CURLUPART_HOST)) return InvalidArgumentError("url has no host");
  if (HasPart(parsed.get(), CURLUPART_USER) || HasPart(parsed.get(), CURLUPART_PASSWORD) ||
      text.find('@', text.find("//") + 2) < text.find_first_of("/?#", text.find("//") + 2)) {
    return InvalidArgumentError("url must not contain a user name or password");
  }
  if (HasPart(parsed.get(), CURLUPART_FRAGMENT)) {
    return InvalidArgumentError("url must not contain a fragment (#…)");
  }
  return OkStatus();
}

CurlHttpClient::CurlHttpClient(EgressGuard guard, HttpClientOptions options)
    : guard_(std::move(guard)), options_(options) {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

StatusOr<OutboundResponse> CurlHttpClient::Send(const OutboundRequest& request) {
  RETURN_IF_ERROR(ValidateOutboundUrl(request.url, options_.allow_http));
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Err(InternalError("cannot start an outbound request"));
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const auto& [name, value] : request.headers) {
    curl_slist* next = curl_slist_append(headers.get(), fmt::format("{}: {}", name, value).c_str());
    if (next == nullptr) return Err(InternalError("cannot build the request headers"));
    (void)headers.release();
    headers.reset(next);
  }
  // Without this, libcurl adds "Expect: 100-continue" to larger bodies and waits for it.
  curl_slist* no_expect = curl_slist_append(headers.get(), "Expect:");
  if (no_expect == nullptr) return Err(InternalError("cannot build the request headers"));
  (void)headers.release();
  headers.reset(no_expect);

  Transfer transfer;
  transfer.guard = &guard_;
  transfer.max_bytes = options_.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, options_.allow_http ? "http,https" : "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from the environment
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "Coffer-Webhooks/1");
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  transfer.response.status = static_cast<int>(status);
  if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && transfer.response.truncated)) {
    return std::move(transfer.response);
  }
  if (transfer.refused.has_value() &&
      (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT)) {
    return Err(std::move(*transfer.refused));
  }
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Err(
        Status{StatusCode::kDeadlineExceeded, fmt::format("the request timed out: {}", detail)});
  }
  return Err(UnavailableError(fmt::format("the request failed: {}", detail)));
}

}  // namespace coffer::gateway
