// HTTP(S) to a Coffer server over one reused libcurl easy handle (so requests share one
// keep-alive connection). TLS peers are always verified; a private CA can be given.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "client/wiping_json.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::client {

struct TransportOptions {
  std::string base_url;  // e.g. http://127.0.0.1:8200 (no trailing /v1)
  std::string ca_cert;   // PEM file of CAs to trust instead of the system store; may be empty
  long timeout_ms = 60'000;
  long connect_timeout_ms = 10'000;
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  GrowingSecretBuffer body;  // may hold a secret value: wiped when released
};

// Not thread-safe: one request at a time (it owns one CURL handle).
class HttpTransport {
 public:
  // kInvalidArgument for a base URL that is not http:// or https://.
  static StatusOr<std::unique_ptr<HttpTransport>> Create(TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Sends `method target` (target starts with "/v1/…", already percent-encoded) with an optional
  // Bearer token and JSON body. Any HTTP status is a success here; a transport failure (refused
  // connection, TLS verification, timeout) is kUnavailable/kDeadlineExceeded naming the server.
  StatusOr<HttpResponse> Send(std::string_view method, std::string_view target,
                              const SecretBuffer* bearer, std::string_view json_body);

  const std::string& base_url() const { return options_.base_url; }

 private:
  HttpTransport(TransportOptions options, void* curl);
  TransportOptions options_;
  void* curl_;  // CURL*
};

// Percent-encodes everything but unreserved characters (and '/' when `keep_slash`).
std::string PercentEncode(std::string_view text, bool keep_slash);

}  // namespace coffer::client
