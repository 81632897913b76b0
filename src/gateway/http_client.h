// Outbound HTTP for the services: HttpClient is the interface they call (so tests can answer
// in-process), CurlHttpClient sends with libcurl under an EgressGuard. One request per call:
// bounded connect and total time, no redirects followed (a 3xx is returned as it is), the
// response body read up to a bound, TLS verified against the system's CAs, no proxy from the
// environment, and the guard checked on every address libcurl is about to connect to (from
// CURLOPT_OPENSOCKETFUNCTION, after name resolution), so a DNS answer that changes between a
// check and the connection cannot slip past it.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gateway/egress_guard.h"

namespace coffer::gateway {

struct OutboundRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct OutboundResponse {
  int status = 0;          // the HTTP status code
  std::string body;        // at most the client's max_response_bytes
  bool truncated = false;  // the body was longer: the rest was not read
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends `request` and returns the response, whatever its status code. Errors:
  // kInvalidArgument for a URL the client refuses (ValidateOutboundUrl); kPermissionDenied when
  // every address of the host is refused by the guard (the message says which range);
  // kDeadlineExceeded when a timeout passed; kUnavailable when no connection could be made or
  // it broke (refused, reset, DNS failure, TLS failure). Messages never contain the request's
  // headers or body. Thread-safe.
  virtual StatusOr<OutboundResponse> Send(const OutboundRequest& request) = 0;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{10000};
  size_t max_response_bytes = 64 * 1024;
  bool allow_http = false;  // plain http:// URLs (else https only)
};

// OK when `url` is one an outbound request may name: absolute https:// (or http:// when
// `allow_http`), a host, no user name or password, at most 2048 bytes, no fragment.
// kInvalidArgument saying what is wrong (never repeating a password).
Status ValidateOutboundUrl(std::string_view url, bool allow_http);

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient(EgressGuard guard, HttpClientOptions options);
  StatusOr<OutboundResponse> Send(const OutboundRequest& request) override;

 private:
  const EgressGuard guard_;
  const HttpClientOptions options_;
};

}  // namespace coffer::gateway
