// libcurl behind HttpTransport: one easy handle reset per request, which keeps its connection
// cache, so consecutive requests reuse one keep-alive connection.
#include "client/http_transport.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <mutex>

#include "common/version.h"

namespace coffer::client {
namespace {

// Sockets must not leak into processes that `coffer run` starts.
int CloseOnExec(void*, curl_socket_t fd, curlsocktype) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  return CURL_SOCKOPT_OK;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<GrowingSecretBuffer*>(user);
  body->Append(data, size * count);
  return size * count;
}

// Frees a header list after wiping each header (one of them carries the token).
struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() {
    for (curl_slist* h = list; h != nullptr; h = h->next) {
      SecureWipe(h->data, std::char_traits<char>::length(h->data));
    }
    curl_slist_free_all(list);
  }
  void Add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

Status TransportError(CURLcode code, const std::string& base_url, const char* error_buffer) {
  std::string why = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status(StatusCode::kDeadlineExceeded,
                    fmt::format("no answer from {} in time: {}", base_url, why));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
      return UnavailableError(fmt::format(
          "TLS with {} failed (is its certificate signed by a CA you trust? --ca-cert FILE): {}",
          base_url, why));
    default:
      return UnavailableError(
          fmt::format("cannot reach the Coffer server at {}: {}", base_url, why));
  }
}

}  // namespace

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '~' ||
                            (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(TransportOptions options) {
  while (options.base_url.ends_with('/')) {
    options.base_url.pop_back();
  }
  if (!options.base_url.starts_with("http://") && !options.base_url.starts_with("https://")) {
    return Err(InvalidArgumentError(fmt::format(
        "server address '{}' must start with http:// or https:// (e.g. http://127.0.0.1:8200)",
        options.base_url)));
  }
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return Err(InternalError("cannot initialise libcurl"));
  }
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(options), curl));
}

HttpTransport::HttpTransport(TransportOptions options, void* curl)
    : options_(std::move(options)), curl_(curl) {}

HttpTransport::~HttpTransport() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

StatusOr<HttpResponse> HttpTransport::Send(std::string_view method, std::string_view target,
                                           const SecretBuffer* bearer, std::string_view json_body) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps live connections: the next request reuses this one's
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  const std::string url = options_.base_url + std::string(target);
  const std::string method_text(method);

  HeaderList headers;
  headers.Add("Accept: application/json, application/problem+json");
  headers.Add(fmt::format("User-Agent: coffer-cli/{}", Version()));
  if (bearer != nullptr && !bearer->empty()) {
    std::string auth = "Authorization: Bearer ";
    auth.append(bearer->view());
    headers.Add(auth);
    SecureWipe(auth);
  }
  if (!json_body.empty()) {
    headers.Add("Content-Type: application/json");
  }
  headers.Add("Expect:");  // no 100-continue round trip for larger bodies

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // send the path exactly as built
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_cert.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_cert.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_SOCKOPTFUNCTION, &CloseOnExec);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  if (method_text == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
    if (!json_body.empty() || method_text == "POST" || method_text == "PUT") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(json_body.size()));
    }
  }

  const CURLcode code = curl_easy_perform(curl);
  // Drop the pointers into this frame before returning (reset would too; be explicit).
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (code != CURLE_OK) {
    return Err(TransportError(code, options_.base_url, error_buffer));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  const char* content_type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
  if (content_type != nullptr) {
    response.content_type = content_type;
  }
  return response;
}

}  // namespace coffer::client
