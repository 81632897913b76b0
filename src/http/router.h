// Router: maps method + decoded path segments to handlers. Patterns are written like
// "/v1/vaults/{vault_id}/secrets/{*path}" where {name} takes one segment and {*name} takes one or
// more segments (joined by '/'), possibly followed by fixed or single-segment parts, e.g.
// "/v1/vaults/{vault_id}/secret-version/{*path}/{version}/disable".
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace coffer::http {

using RouteParams = std::map<std::string, std::string, std::less<>>;
using Handler = std::function<Response(const Request&, const RouteParams&)>;

struct RouteOptions {
  // The handler is quick and, unless it must wait for the store's writer, need not leave the
  // I/O thread: a server that allows it runs it there inside a NonBlockingScope
  // (common/non_blocking.h) and, if anything in it refused to wait, throws that attempt away
  // and runs the handler again on its worker pool. So the handler must leave no trace before
  // its first wait (the store's writer and the audit log see to that).
  bool io_thread = false;
  // The handler runs once the request's header is read; its body, if any, arrives through
  // Request::body_stream while the handler and its answer proceed (http/request_body.h).
  bool stream_body = false;
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Handler* handler = nullptr;
  RouteOptions options;
  RouteParams params;
  std::string route_template;  // the pattern that matched, for logs and metrics
  std::string allow;           // for kMethodNotAllowed: "GET, PUT"
};

class Router {
 public:
  // Registers a route. Routes are tried in registration order; the first whose pattern and method
  // match wins. Not thread-safe: register everything before serving.
  void Add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});

  // Thread-safe once registration is done.
  RouteMatch Match(std::string_view method, const std::vector<std::string>& segments) const;

  // Every registered (method, pattern), for documentation checks.
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Part {
    enum class Kind { kLiteral, kParam, kRest };
    Kind kind;
    std::string text;  // literal text or parameter name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Part> parts;
    Handler handler;
    RouteOptions options;
  };
  static bool MatchParts(const std::vector<Part>& parts, const std::vector<std::string>& segments,
                         RouteParams& params);

  std::vector<Route> routes_;
};

}  // namespace coffer::http
