// Problem+json answers to Status, and back to their parts for display.
#include "client/problem.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>

namespace coffer::client {
namespace {

constexpr std::string_view kTypePrefix = "urn:coffer:problem:";
constexpr std::string_view kHttpMarker = " (HTTP ";

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 401:
      return "Unauthenticated";
    case 403:
      return "Permission denied";
    case 404:
      return "Not found";
    case 405:
      return "Method not allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition failed";
    case 413:
      return "Payload too large";
    case 415:
      return "Unsupported media type";
    case 429:
      return "Too many requests";
    case 500:
      return "Internal server error";
    case 502:
      return "Bad gateway";
    case 503:
      return "Service unavailable";
    case 504:
      return "Gateway timeout";
    default:
      return status >= 500 ? "Server error" : "Request refused";
  }
}

}  // namespace

Problem ParseProblem(int http_status, std::string_view content_type, std::string_view body) {
  Problem p;
  p.http_status = http_status;
  if (content_type.find("json") != std::string_view::npos) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      if (auto* t = o.if_contains("type"); t != nullptr && t->is_string()) {
        p.type = std::string(t->as_string());
      }
      if (auto* t = o.if_contains("title"); t != nullptr && t->is_string()) {
        p.title = std::string(t->as_string());
      }
      if (auto* d = o.if_contains("detail"); d != nullptr && d->is_string()) {
        p.detail = std::string(d->as_string());
      }
    }
  }
  if (p.title.empty()) {
    p.title = std::string(ReasonPhrase(http_status));
  }
  return p;
}

StatusCode CodeForProblem(const Problem& problem) {
  if (problem.type.starts_with(kTypePrefix)) {
    const std::string_view slug = std::string_view(problem.type).substr(kTypePrefix.size());
    if (slug == "invalid-argument") return StatusCode::kInvalidArgument;
    if (slug == "out-of-range") return StatusCode::kOutOfRange;
    if (slug == "unauthenticated") return StatusCode::kUnauthenticated;
    if (slug == "permission-denied") return StatusCode::kPermissionDenied;
    if (slug == "not-found") return StatusCode::kNotFound;
    if (slug == "already-exists") return StatusCode::kAlreadyExists;
    if (slug == "aborted") return StatusCode::kAborted;
    if (slug == "failed-precondition") return StatusCode::kFailedPrecondition;
    if (slug == "precondition-failed") return StatusCode::kFailedPrecondition;
    if (slug == "gone") return StatusCode::kGone;
    if (slug == "resource-exhausted") return StatusCode::kResourceExhausted;
    if (slug == "unimplemented") return StatusCode::kUnimplemented;
    if (slug == "unavailable") return StatusCode::kUnavailable;
    if (slug == "deadline-exceeded") return StatusCode::kDeadlineExceeded;
    if (slug == "internal") return StatusCode::kInternal;
  }
  switch (problem.http_status) {
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAborted;
    case 410:
      return StatusCode::kGone;
    case 429:
      return StatusCode::kResourceExhausted;
    case 501:
      return StatusCode::kUnimplemented;
    case 502:
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      break;
  }
  return problem.http_status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument;
}

Status ProblemStatus(const Problem& problem) {
  std::string message = fmt::format("{}{}{}):", problem.title, kHttpMarker, problem.http_status);
  if (!problem.detail.empty()) {
    message += " ";
    message += problem.detail;
  }
  return Status(CodeForProblem(problem), std::move(message));
}

int HttpStatusOf(const Status& s) {
  const std::string& m = s.message();
  const size_t at = m.find(kHttpMarker);
  if (at == std::string::npos) return 0;
  const char* begin = m.data() + at + kHttpMarker.size();
  int status = 0;
  auto [ptr, ec] = std::from_chars(begin, m.data() + m.size(), status);
  if (ec != std::errc() || ptr == m.data() + m.size() || *ptr != ')') return 0;
  return status;
}

std::string_view DetailOf(const Status& s) {
  std::string_view m = s.message();
  if (HttpStatusOf(s) == 0) return m;
  const size_t at = m.find("):");
  std::string_view rest = m.substr(at + 2);
  if (rest.starts_with(' ')) rest.remove_prefix(1);
  return rest.empty() ? m : rest;
}

}  // namespace coffer::client
