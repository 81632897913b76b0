// Router: parses route patterns once at registration and matches decoded path segments against
// them. A rest parameter ({*name}) takes as many segments as it can while the parts after it still
// match; parts after it that are not rest parameters take exactly one segment each.
#include "http/router.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace coffer::http {

namespace {

// Route patterns come from code, never from requests, so a malformed one is a programming error
// that must stop the server at start-up rather than silently never match.
[[noreturn]] void BadPattern(const std::string& pattern, const char* why) {
  std::fprintf(stderr, "coffer: bad route pattern \"%s\": %s\n", pattern.c_str(), why);
  std::abort();
}

// Appends the segments [begin, end) to `out`, joined by '/'.
std::string JoinSegments(const std::vector<std::string>& segments, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) {
      out.push_back('/');
    }
    out += segments[i];
  }
  return out;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    BadPattern(pattern, "must start with '/'");
  }
  std::vector<Part> parts;
  size_t pos = 1;
  // "/" alone has no parts; otherwise every '/'-separated piece is one part.
  while (pattern.size() > 1 && pos <= pattern.size()) {
    size_t slash = pattern.find('/', pos);
    if (slash == std::string::npos) {
      slash = pattern.size();
    }
    std::string piece = pattern.substr(pos, slash - pos);
    pos = slash + 1;
    if (piece.size() >= 2 && piece.front() == '{' && piece.back() == '}') {
      std::string name = piece.substr(1, piece.size() - 2);
      Part::Kind kind = Part::Kind::kParam;
      if (!name.empty() && name.front() == '*') {
        kind = Part::Kind::kRest;
        name.erase(0, 1);
      }
      if (name.empty() || name.find_first_of("{}*") != std::string::npos) {
        BadPattern(pattern, "bad parameter name");
      }
      for (const Part& p : parts) {
        if (p.kind != Part::Kind::kLiteral && p.text == name) {
          BadPattern(pattern, "duplicate parameter name");
        }
      }
      parts.push_back(Part{kind, std::move(name)});
    } else {
      if (piece.find_first_of("{}") != std::string::npos) {
        BadPattern(pattern, "braces must enclose a whole segment");
      }
      parts.push_back(Part{Part::Kind::kLiteral, std::move(piece)});
    }
  }
  routes_.push_back(
      Route{std::move(method), std::move(pattern), std::move(parts), std::move(handler), options});
}

namespace {

// Matches parts[pi..] against segments[si..]. Parameters are written to `params` only along the
// successful path (a failed branch may leave entries that the caller overwrites or discards).
template <typename PartT>
bool MatchFrom(const std::vector<PartT>& parts, size_t pi, const std::vector<std::string>& segments,
               size_t si, RouteParams& params) {
  using Kind = typename PartT::Kind;
  for (; pi < parts.size(); ++pi) {
    const PartT& part = parts[pi];
    if (part.kind == Kind::kRest) {
      // Every later part needs at least one segment; without another rest part they need
      // exactly one each, which pins the rest's length and keeps matching linear.
      size_t later = parts.size() - pi - 1;
      bool later_rest = false;
      for (size_t k = pi + 1; k < parts.size(); ++k) {
        later_rest = later_rest || parts[k].kind == Kind::kRest;
      }
      if (segments.size() < si + 1 + later) {
        return false;
      }
      size_t max_end = segments.size() - later;
      size_t min_end = later_rest ? si + 1 : max_end;
      for (size_t end = max_end; end >= min_end; --end) {
        std::string joined = JoinSegments(segments, si, end);
        if (joined.empty()) {
          continue;  // a rest parameter never matches nothing ("secrets/" has no path)
        }
        if (MatchFrom(parts, pi + 1, segments, end, params)) {
          params.insert_or_assign(part.text, std::move(joined));
          return true;
        }
      }
      return false;
    }
    if (si >= segments.size()) {
      return false;
    }
    const std::string& segment = segments[si];
    if (part.kind == Kind::kLiteral) {
      if (segment != part.text) {
        return false;
      }
    } else {
      if (segment.empty()) {
        return false;  // "/v1/vaults//secrets" has no vault id
      }
      params.insert_or_assign(part.text, segment);
    }
    ++si;
  }
  return si == segments.size();
}

}  // namespace

bool Router::MatchParts(const std::vector<Part>& parts, const std::vector<std::string>& segments,
                        RouteParams& params) {
  return MatchFrom(parts, 0, segments, 0, params);
}

RouteMatch Router::Match(std::string_view method, const std::vector<std::string>& segments) const {
  RouteMatch result;
  std::vector<std::string_view> allowed;
  for (const Route& route : routes_) {
    RouteParams params;
    if (!MatchParts(route.parts, segments, params)) {
      continue;
    }
    if (route.method == method) {
      result.kind = RouteMatch::Kind::kFound;
      result.handler = &route.handler;
      result.options = route.options;
      result.params = std::move(params);
      result.route_template = route.pattern;
      result.allow.clear();
      return result;
    }
    bool seen = false;
    for (std::string_view m : allowed) {
      seen = seen || m == route.method;
    }
    if (!seen) {
      allowed.push_back(route.method);
    }
  }
  if (!allowed.empty()) {
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (i > 0) {
        result.allow += ", ";
      }
      result.allow += allowed[i];
    }
  }
  return result;
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const Route& route : routes_) {
    out.emplace_back(route.method, route.pattern);
  }
  return out;
}

}  // namespace coffer::http
