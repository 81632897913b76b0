// CurlHttpClient: one libcurl easy handle per request, made safe by curl_transfer.h (the
// EgressGuard consulted from the open-socket callback with the address libcurl resolved), and
// libcurl's errors mapped to the codes HttpClient promises.
#include "gateway/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <memory>

#include "gateway/curl_transfer.h"

namespace coffer::gateway {

namespace {

struct Transfer {
  SocketGuard socket_guard;
  OutboundResponse response;
  size_t max_bytes = 0;
};

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
  InitCurlOnce();
}

StatusOr<OutboundResponse> CurlHttpClient::Send(const OutboundRequest& request) {
  RETURN_IF_ERROR(ValidateOutboundUrl(request.url, options_.allow_http));
  std::unique_ptr<CURL, CurlEasyDeleter> curl(curl_easy_init());
  if (!curl) return Err(InternalError("cannot start an outbound request"));
  // Without "Expect:", libcurl adds "Expect: 100-continue" to larger bodies and waits for it.
  ASSIGN_OR_RETURN(CurlHeaderList headers, BuildCurlHeaderList(request.headers, {"Expect:"}));

  Transfer transfer;
  transfer.socket_guard.guard = &guard_;
  transfer.max_bytes = options_.max_response_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  SetSafeTransferOptions(c, options_.allow_http, &transfer.socket_guard);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
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
  if (transfer.socket_guard.refused.has_value() &&
      (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT)) {
    return Err(std::move(*transfer.socket_guard.refused));
  }
  const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Err(
        Status{StatusCode::kDeadlineExceeded, fmt::format("the request timed out: {}", detail)});
  }
  return Err(UnavailableError(fmt::format("the request failed: {}", detail)));
}

}  // namespace coffer::gateway
