// The one table from Status codes to HTTP statuses, problem titles and `type` slugs, and the
// RFC 9457 body builder. Internal failures are reported with a generic detail so that no internal
// message (file names, SQL, key ids) ever reaches a client.
#include "http/problem_json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <string>

namespace coffer::http {

namespace {

struct ProblemKind {
  int http_status;
  std::string_view title;
  std::string_view slug;
  bool hide_detail;  // the Status message is internal; send kInternalDetail instead
};

constexpr std::string_view kInternalDetail = "internal error";
constexpr std::string_view kTypePrefix = "urn:coffer:problem:";
constexpr size_t kMaxDetailBytes = 2048;

ProblemKind KindFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return {400, "Invalid request", "invalid-argument", false};
    case StatusCode::kOutOfRange:
      return {400, "Out of range", "out-of-range", false};
    case StatusCode::kUnauthenticated:
      return {401, "Unauthenticated", "unauthenticated", false};
    case StatusCode::kPermissionDenied:
      return {403, "Permission denied", "permission-denied", false};
    case StatusCode::kNotFound:
      return {404, "Not found", "not-found", false};
    case StatusCode::kAlreadyExists:
      return {409, "Already exists", "already-exists", false};
    case StatusCode::kAborted:
      return {409, "Conflict", "aborted", false};
    case StatusCode::kFailedPrecondition:
      return {409, "Failed precondition", "failed-precondition", false};
    case StatusCode::kGone:
      return {410, "Gone", "gone", false};
    case StatusCode::kResourceExhausted:
      return {429, "Too many requests", "resource-exhausted", false};
    case StatusCode::kUnimplemented:
      return {501, "Not implemented", "unimplemented", false};
    case StatusCode::kUnavailable:
      return {503, "Service unavailable", "unavailable", false};
    case StatusCode::kDeadlineExceeded:
      return {504, "Deadline exceeded", "deadline-exceeded", false};
    case StatusCode::kDataLoss:
      // Stored data failed a check (a value that does not decrypt, a damaged row): a type of its
      // own so clients and operators can tell it from a bug; the message stays internal.
      return {500, "Stored data failed its integrity check", "data-integrity", true};
    case StatusCode::kOk:  // a problem built from OK is a bug in the caller
    case StatusCode::kCancelled:
    case StatusCode::kUnknown:
    case StatusCode::kInternal:
      break;
  }
  return {500, "Internal server error", "internal", true};
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 < 0x80) {
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    hi = b0 == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;
    hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
      return 0;
    }
  }
  return len;
}

// Details may quote client input (a path, a parameter name). JSON must be valid UTF-8, so broken
// sequences become U+FFFD, and the detail is capped so a huge input cannot bloat the response.
std::string SanitizeDetail(std::string_view detail) {
  std::string out;
  out.reserve(std::min(detail.size(), kMaxDetailBytes));
  size_t i = 0;
  while (i < detail.size()) {
    size_t len = Utf8SequenceLength(detail, i);
    std::string_view piece = len == 0 ? std::string_view("\xEF\xBF\xBD") : detail.substr(i, len);
    if (out.size() + piece.size() > kMaxDetailBytes) {
      out += "...";
      break;
    }
    out += piece;
    i += len == 0 ? 1 : len;
  }
  return out;
}

}  // namespace

Response Problem(int http_status, std::string_view slug, std::string_view title,
                 std::string_view detail) {
  boost::json::object body;
  std::string type(kTypePrefix);
  type += slug;
  body["type"] = type;
  body["title"] = SanitizeDetail(title);
  body["status"] = http_status;
  body["detail"] = SanitizeDetail(detail);

  Response response;
  response.status = http_status;
  response.content_type = "application/problem+json";
  response.body = boost::json::serialize(body);
  if (http_status == 401) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

Response ProblemFromStatus(const Status& status) {
  ProblemKind kind = KindFor(status.code());
  if (status.code() == StatusCode::kUnavailable) {
    // A store that cannot be written says why in the type (common/storage_fault.h).
    switch (status.payload().storage_fault) {
      case StorageFault::kFull:
        kind = {503, "Storage full", "storage-full", false};
        break;
      case StorageFault::kReadOnly:
        kind = {503, "Storage read-only", "storage-read-only", false};
        break;
      case StorageFault::kIoError:
        kind = {503, "Storage I/O error", "storage-io-error", false};
        break;
      case StorageFault::kNone:
        break;
    }
    if (status.payload().key_provider_unavailable) {
      kind = {503, "Key provider unavailable", "key-provider-unavailable", false};
    }
  }
  if (status.code() == StatusCode::kFailedPrecondition && status.payload().precondition_failed) {
    kind = {412, "Precondition failed", "precondition-failed", false};
  }
  Response response =
      Problem(kind.http_status, kind.slug, kind.title,
              kind.hide_detail ? kInternalDetail : std::string_view(status.message()));
  if (kind.http_status >= 500) {
    // The client gets a generic detail; the operator's log gets the cause.
    response.internal_cause = status.message().empty() ? status.ToString() : status.message();
  }
  const std::chrono::microseconds retry_after = status.payload().retry_after;
  if (status.code() == StatusCode::kResourceExhausted && retry_after.count() > 0) {
    // Whole seconds, rounded up (and so at least 1): a client that waits that long is admitted.
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(retry_after);
    response.headers.emplace_back("Retry-After", std::to_string(seconds.count()));
  }
  return response;
}

int HttpStatusFor(StatusCode code) { return KindFor(code).http_status; }

}  // namespace coffer::http
