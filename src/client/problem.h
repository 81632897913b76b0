// How the client turns an HTTP answer that is not a success into a Status: the RFC 9457
// problem's title, detail and HTTP status are kept in the Status message, and its code follows
// the problem's type (or, failing that, the HTTP status).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer::client {

// The fields of an application/problem+json body that the client shows.
struct Problem {
  int http_status = 0;
  std::string type;    // e.g. urn:coffer:problem:not-found
  std::string title;   // e.g. Not found
  std::string detail;  // e.g. vault not found
};

// Reads a problem from an error answer. A body that is not problem+json still gives a Problem
// with the HTTP status and a title from the status line (never the body: it could hold anything).
Problem ParseProblem(int http_status, std::string_view content_type, std::string_view body);

// The canonical code for a problem: from its `type` slug when it is Coffer's, else from the HTTP
// status (401 kUnauthenticated, 403 kPermissionDenied, 404 kNotFound, 410 kGone, 5xx kInternal
// or kUnavailable, other 4xx kInvalidArgument…).
StatusCode CodeForProblem(const Problem& problem);

// A Status carrying the problem: "<title> (HTTP <status>): <detail>".
Status ProblemStatus(const Problem& problem);

// The HTTP status a problem Status was built from, or 0 when `s` did not come from an answer.
int HttpStatusOf(const Status& s);

// The detail of a problem Status (the part after "): "), or the whole message otherwise.
std::string_view DetailOf(const Status& s);

}  // namespace coffer::client
