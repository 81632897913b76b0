// The options, the open-socket guard and the header lists every libcurl transfer of gateway/
// uses (http_client.cc, upstream.cc).
#include "gateway/curl_transfer.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <mutex>

#include "common/secret_buffer.h"

namespace coffer::gateway {

namespace {

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
  auto* state = static_cast<SocketGuard*>(data);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const std::optional<IpAddress> ip = AddressOf(address);
  if (!ip.has_value()) {
    state->refused = PermissionDeniedError("connecting to a non-IP address is refused");
    return CURL_SOCKET_BAD;
  }
  if (Status s = state->guard->Check(*ip); !s.ok()) {
    state->refused = std::move(s);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

}  // namespace

void CurlSlistDeleter::operator()(curl_slist* list) const {
  for (curl_slist* line = list; line != nullptr; line = line->next) {
    SecureWipe(line->data, std::strlen(line->data));
  }
  curl_slist_free_all(list);
}

void InitCurlOnce() {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void SetSafeTransferOptions(CURL* c, bool allow_http, SocketGuard* socket_guard) {
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allow_http ? "http,https" : "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");     // no proxy from the environment…
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // …for any host
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, socket_guard);
}

StatusOr<CurlHeaderList> BuildCurlHeaderList(
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::vector<std::string_view>& extra) {
  CurlHeaderList list;
  auto append = [&list](std::string& line) -> bool {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    SecureWipe(line);
    if (next == nullptr) return false;
    (void)list.release();  // `next` is the same list, one line longer
    list.reset(next);
    return true;
  };
  for (const auto& [name, value] : headers) {
    std::string line =
        value.empty() ? fmt::format("{};", name) : fmt::format("{}: {}", name, value);
    if (!append(line)) return Err(InternalError("cannot build the request headers"));
  }
  for (std::string_view e : extra) {
    std::string line(e);
    if (!append(line)) return Err(InternalError("cannot build the request headers"));
  }
  return list;
}

std::string HostOfUrl(std::string_view url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  std::string host = "the upstream";
  if (!parsed) return host;
  std::string text(url);
  char* value = nullptr;
  if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) == CURLUE_OK &&
      curl_url_get(parsed.get(), CURLUPART_HOST, &value, 0) == CURLUE_OK && value != nullptr) {
    host = value;
  }
  curl_free(value);
  SecureWipe(text);  // the query may hold a credential
  return host;
}

}  // namespace coffer::gateway
