// Status and StatusOr<T>: errors as values, with Abseil's canonical codes plus kGone.
// Every fallible function in Coffer returns one of these; exceptions from libraries are caught at
// the edge that calls them. One table (http/problem_json.cc) maps codes to HTTP. Both types are
// must-use: a dropped result is a compile error (-Werror=unused-result).
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace coffer {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
  // Not in Abseil's set: the thing existed but may no longer be read (expired, exhausted,
  // disabled). Maps to HTTP 410.
  kGone = 100,
};

std::string_view StatusCodeName(StatusCode code);
// The code whose StatusCodeName is `name`, if any.
std::optional<StatusCode> StatusCodeFromName(std::string_view name);

// Why a store could not do its work (a disk or database fault, not a bug): the API answers a
// kUnavailable that names one with 503 and a type saying which (urn:coffer:problem:storage-full,
// …). common/storage_fault.h maps errno values and builds such a Status.
enum class StorageFault {
  kNone,
  kFull,      // no space left (ENOSPC, EDQUOT, SQLITE_FULL, PostgreSQL 53100)
  kReadOnly,  // the store cannot be written (EROFS, SQLITE_READONLY, PostgreSQL 25006)
  kIoError,   // the device failed a read, write or sync (EIO, SQLITE_IOERR, PostgreSQL 58030)
};

// Typed details a failed Status carries beside its message, for the code that acts on a cause
// (as Abseil's payloads, but typed: nothing is parsed back out of a message). Like the message,
// never a secret. The default is "nothing said".
struct StatusPayload {
  // The storage fault behind a kUnavailable.
  StorageFault storage_fault = StorageFault::kNone;
  // For kResourceExhausted: how long until a retry may be admitted (the API's Retry-After).
  std::chrono::microseconds retry_after{0};
  // For kFailedPrecondition: a condition the caller stated (If-Match, If-None-Match, `cas`)
  // does not hold; the API answers 412 instead of 409.
  bool precondition_failed = false;
  // For kUnavailable: the root key's provider (a PKCS#11 token) cannot be reached; the API
  // answers 503 urn:coffer:problem:key-provider-unavailable.
  bool key_provider_unavailable = false;

  friend bool operator==(const StatusPayload&, const StatusPayload&) = default;
};

// A Status is a code, a message meant for the caller and a payload. The message must never
// contain a secret value, key or token: it may end up in a problem+json body or a log line.
// An OK status has neither message nor payload: Status(kOk, "…") is plain OK (as in Abseil), and
// SetPayload on an OK status does nothing. Two statuses are equal when code, message and payload
// are. A copy or move carries the payload along, as do RETURN_IF_ERROR and ASSIGN_OR_RETURN.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, StatusPayload payload = {}) : code_(code) {
    if (code != StatusCode::kOk) {
      message_ = std::move(message);
      payload_ = payload;
    }
  }
  // Lets the RETURN_IF_ERROR / ASSIGN_OR_RETURN macros serve functions returning Status too.
  Status(std::unexpected<Status> u) : Status(std::move(u.error())) {}  // NOLINT

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const StatusPayload& payload() const { return payload_; }
  void SetPayload(StatusPayload payload) {
    if (!ok()) payload_ = payload;
  }
  // "CODE: message", or "OK". The payload is not printed (the message names a storage fault).
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.payload_ == b.payload_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  StatusPayload payload_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);
// Prints the code's name ("NOT_FOUND").
std::ostream& operator<<(std::ostream& os, StatusCode code);

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExistsError(std::string m) {
  return {StatusCode::kAlreadyExists, std::move(m)};
}
inline Status PermissionDeniedError(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status UnauthenticatedError(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status ResourceExhaustedError(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status FailedPreconditionError(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status AbortedError(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status UnimplementedError(std::string m) {
  return {StatusCode::kUnimplemented, std::move(m)};
}
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status UnavailableError(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status GoneError(std::string m) { return {StatusCode::kGone, std::move(m)}; }

// `s`, but with `message` when it is kNotFound: for turning a store's generic "not found" into
// the caller's words ("vault not found").
inline Status NotFoundAs(const Status& s, std::string_view message) {
  if (s.code() == StatusCode::kNotFound) return NotFoundError(std::string(message));
  return s;
}

// StatusOr<T> holds a T or a non-OK Status. It is a std::expected<T, Status> (has_value(),
// value(), error(), operator*, …) that must be used, as Status must: Abseil marks its StatusOr
// so, since a dropped result is a failure nobody hears of.
template <typename T>
class [[nodiscard]] StatusOr : public std::expected<T, Status> {
  using Base = std::expected<T, Status>;

 public:
  using Base::Base;
  // From a plain std::expected<T, Status> (as its monadic operations return, in newer
  // libraries): inherited constructors never take the base class itself.
  StatusOr(Base base) : Base(std::move(base)) {}  // NOLINT
};

// Prints "OK" for a value, which is not printed (it may be a secret), else the Status.
template <typename T>
std::ostream& operator<<(std::ostream& os, const StatusOr<T>& s) {
  return s.has_value() ? os << "OK" : os << s.error();
}

// Lets `return SomeError(...)` work in a function returning StatusOr<T>.
inline std::unexpected<Status> Err(Status s) { return std::unexpected<Status>(std::move(s)); }

namespace internal {
inline Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const StatusOr<T>& s) {
  return s.has_value() ? OkStatus() : s.error();
}
}  // namespace internal

}  // namespace coffer

#define COFFER_CONCAT_INNER(a, b) a##b
#define COFFER_CONCAT(a, b) COFFER_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` (a Status or StatusOr) is not OK.
// Works in functions returning Status or StatusOr<U>.
#define RETURN_IF_ERROR(expr)                                                  \
  do {                                                                         \
    ::coffer::Status coffer_status_ = ::coffer::internal::ToStatus((expr));    \
    if (!coffer_status_.ok()) return ::coffer::Err(std::move(coffer_status_)); \
  } while (0)

// ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(COFFER_CONCAT(coffer_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                         \
  auto tmp = (expr);                                                  \
  if (!tmp.has_value()) return ::coffer::Err(std::move(tmp).error()); \
  lhs = std::move(tmp).value()
