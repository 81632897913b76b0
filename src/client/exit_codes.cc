// Status -> exit code for the client commands, and the error line they print.
#include "client/exit_codes.h"

#include <fmt/format.h>

#include <cstdio>

namespace coffer::client {

int ReportError(const Status& status) {
  fmt::print(stderr, "error: {}\n", status.message());
  if (status.code() == StatusCode::kUnauthenticated) {
    fmt::print(stderr,
               "hint: give a valid API key with COFFER_TOKEN, --token, or `coffer login`\n");
  }
  return ExitCodeFor(status);
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return kExitUsage;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return kExitAuth;
    case StatusCode::kNotFound:
      return kExitNotFound;
    case StatusCode::kInternal:
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kUnknown:
    case StatusCode::kDataLoss:
    case StatusCode::kUnimplemented:
      return kExitServer;
    case StatusCode::kCancelled:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAborted:
    case StatusCode::kResourceExhausted:
    case StatusCode::kGone:
      break;
  }
  return kExitError;
}

std::string_view ExitCodesHelp() {
  return "Exit codes of the client commands:\n"
         "  0  success\n"
         "  1  other errors (conflict, gone, rate limited, local I/O)\n"
         "  2  usage: bad flags or arguments, or a request the server refused as invalid (400)\n"
         "  3  authentication or permission: no/bad token (401) or not allowed (403)\n"
         "  4  not found (404): vault, secret, version, agent or policy\n"
         "  5  server error (5xx) or server unreachable (connection, TLS, timeout)\n"
         "  coffer run exits with its command's code (128+N if killed by signal N; 127 if the\n"
         "  command is not found)";
}

}  // namespace coffer::client
