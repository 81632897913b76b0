// Binding config and guardrails: parsing with a message naming the field at fault, defaults, the
// canonical JSON form, the plain-http destination check, and guardrail path globs.
#include "service/binding_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstring>
#include <initializer_list>

#include "common/ip_address.h"

namespace coffer {
namespace {

constexpr std::array<std::string_view, 6> kAllMethods = {"GET", "HEAD",  "POST",
                                                         "PUT", "PATCH", "DELETE"};

Status FieldError(std::string_view prefix, std::string_view field, std::string_view what) {
  return InvalidArgumentError(fmt::format("{}.{} {}", prefix, field, what));
}
Status ConfigError(std::string_view field, std::string_view what) {
  return FieldError("config", field, what);
}
Status GuardrailError(std::string_view field, std::string_view what) {
  return FieldError("guardrails", field, what);
}

StatusOr<boost::json::object> ParseObject(std::string_view json, std::string_view what) {
  if (json.empty()) return boost::json::object{};
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) {
    return Err(InvalidArgumentError(fmt::format("{} must be a JSON object", what)));
  }
  return std::move(v.as_object());
}

Status RefuseUnknown(const boost::json::object& o, std::string_view prefix,
                     std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : o) {
    if (std::find(known.begin(), known.end(), std::string_view(key)) == known.end()) {
      return FieldError(prefix, std::string_view(key).substr(0, 64),
                        fmt::format("is not a field of a binding's {}", prefix));
    }
  }
  return OkStatus();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(std::string_view s) {
  return !s.empty() && s.size() <= 128 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return IsTokenChar(c); });
}

// Names a binding may never set as fixed extras nor use for its credential header.
bool IsReservedRequestHeader(std::string_view lower) {
  static constexpr std::array<std::string_view, 11> kReserved = {
      "host",    "content-length", "transfer-encoding", "connection", "keep-alive", "te",
      "trailer", "upgrade",        "authorization",     "cookie",     "expect"};
  return std::find(kReserved.begin(), kReserved.end(), lower) != kReserved.end() ||
         lower.starts_with("proxy-");
}

bool IsNeverPassedResponseHeader(std::string_view lower) {
  static constexpr std::array<std::string_view, 8> kNever = {
      "set-cookie",        "set-cookie2", "connection", "keep-alive",
      "transfer-encoding", "te",          "trailer",    "upgrade"};
  return std::find(kNever.begin(), kNever.end(), lower) != kNever.end() ||
         lower.starts_with("proxy-") || lower == "content-length";
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

StatusOr<std::string> StringField(const boost::json::value& v, std::string_view field,
                                  size_t max_len = 256) {
  if (!v.is_string()) return Err(ConfigError(field, "must be a string"));
  std::string s(v.as_string());
  if (s.size() > max_len) {
    return Err(ConfigError(field, fmt::format("must be at most {} characters", max_len)));
  }
  if (HasControl(s)) return Err(ConfigError(field, "must not contain control characters"));
  return s;
}

Status ParseBaseUrl(std::string_view url, BindingConfig& c) {
  if (url.size() > 2048) return ConfigError("base_url", "must be at most 2048 characters");
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return ConfigError("base_url", "must be an absolute https URL");
  }
  c.scheme = Lower(url.substr(0, sep));
  if (c.scheme != "https" && c.scheme != "http") {
    return ConfigError("base_url", "must use https");
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.empty()) return ConfigError("base_url", "must name a host");
  if (authority.find('@') != std::string_view::npos) {
    return ConfigError("base_url", "must not carry user information");
  }
  std::string_view host;
  std::string_view port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return ConfigError("base_url", "has a malformed host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return ConfigError("base_url", "has a malformed host");
      port = after.substr(1);
    }
    if (!ParseIpAddress(host).has_value()) {
      return ConfigError("base_url", "has a malformed IPv6 address");
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    // "localhost." is "localhost": the root's dot is dropped, so the name means what it says.
    if (host.size() > 1 && host.ends_with('.')) host.remove_suffix(1);
    if (host.empty() || host.size() > 253 ||
        !std::all_of(host.begin(), host.end(), [](unsigned char ch) {
          return std::isalnum(ch) != 0 || ch == '-' || ch == '.';
        })) {
      return ConfigError("base_url", "has a malformed host");
    }
  }
  if (!port.empty() || authority.ends_with(":")) {
    int value = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char ch) { return std::isdigit(ch); })) {
      return ConfigError("base_url", "has a malformed port");
    }
    for (char ch : port) value = value * 10 + (ch - '0');
    if (value < 1 || value > 65535) return ConfigError("base_url", "has a malformed port");
  }
  for (unsigned char ch : path) {
    if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '\\') {
      return ConfigError("base_url",
                         "must have no query or fragment, and a path of printable characters");
    }
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  for (size_t start = 1; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return ConfigError("base_url", "must have a path without empty, '.' or '..' segments");
    }
    start = end + 1;
  }
  c.host = Lower(host);
  c.base_path = std::string(path);
  const bool bracketed = authority.front() == '[';
  c.base_url = fmt::format("{}://{}{}{}{}{}{}", c.scheme, bracketed ? "[" : "", c.host,
                           bracketed ? "]" : "", port.empty() ? "" : ":", port, c.base_path);
  return OkStatus();
}

Status ParseHeaders(const boost::json::value& v, BindingConfig& c) {
  if (!v.is_object()) return ConfigError("headers", "must be an object of header names to values");
  if (v.as_object().size() > kMaxBindingExtraHeaders) {
    return ConfigError("headers",
                       fmt::format("may name at most {} headers", kMaxBindingExtraHeaders));
  }
  for (const auto& [key, value] : v.as_object()) {
    const std::string name = Lower(std::string_view(key));
    if (!IsToken(name)) return ConfigError("headers", "has a name that is not a header name");
    if (IsReservedRequestHeader(name)) {
      return ConfigError("headers", fmt::format("may not set {}", name));
    }
    if (!value.is_string()) return ConfigError("headers", "values must be strings");
    std::string text(value.as_string());
    if (HasControl(text) || text.size() > 4096) {
      return ConfigError("headers",
                         "values must be at most 4096 characters, without CR, LF or "
                         "other control characters");
    }
    c.headers.emplace_back(name, std::move(text));
  }
  return OkStatus();
}

Status ParsePassList(const boost::json::value& v, BindingConfig& c) {
  if (!v.is_array()) return ConfigError("pass_response_headers", "must be an array of names");
  if (v.as_array().size() > kMaxBindingListItems) {
    return ConfigError("pass_response_headers",
                       fmt::format("may list at most {} names", kMaxBindingListItems));
  }
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return ConfigError("pass_response_headers", "must list strings");
    std::string name = Lower(std::string_view(item.as_string()));
    std::string_view stem = name;
    if (stem.ends_with("*")) stem.remove_suffix(1);
    if (!IsToken(stem) || stem.find('*') != std::string_view::npos) {
      return ConfigError("pass_response_headers",
                         "must list header names (a trailing * for a "
                         "prefix)");
    }
    if (IsNeverPassedResponseHeader(stem)) {
      return ConfigError("pass_response_headers", fmt::format("may not pass {}", stem));
    }
    c.pass_response_headers.push_back(std::move(name));
  }
  return OkStatus();
}

StatusOr<int64_t> IntField(const boost::json::object& o, std::string_view field, int64_t min,
                           int64_t max, int64_t fallback) {
  const auto* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_int64() || v->as_int64() < min || v->as_int64() > max) {
    return Err(GuardrailError(field, fmt::format("must be an integer from {} to {}", min, max)));
  }
  return v->as_int64();
}

Status ValidateGlob(std::string_view glob) {
  if (glob.empty() || glob.size() > 512) {
    return GuardrailError("allowed_paths", "has an empty or too long glob");
  }
  for (unsigned char ch : glob) {
    if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '\\') {
      return GuardrailError("allowed_paths",
                            "globs must be printable, without '?', '#' or "
                            "spaces");
    }
  }
  int double_stars = 0;
  for (size_t start = 0; start <= glob.size();) {
    size_t end = glob.find('/', start);
    if (end == std::string_view::npos) end = glob.size();
    std::string_view segment = glob.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return GuardrailError("allowed_paths", "globs must have no empty, '.' or '..' segments");
    }
    if (segment != "**" && segment.find("**") != std::string_view::npos) {
      return GuardrailError("allowed_paths", "`**` must be a whole segment");
    }
    if (segment == "**" && ++double_stars > 4) {
      return GuardrailError("allowed_paths", "globs may have at most 4 `**` segments");
    }
    start = end + 1;
  }
  return OkStatus();
}

// `*` within one segment.
bool SegmentMatches(std::string_view pattern, std::string_view text) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string_view> Segments(std::string_view s) {
  std::vector<std::string_view> out;
  if (s.empty()) return out;
  for (size_t start = 0; start <= s.size();) {
    size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool MatchSegments(const std::vector<std::string_view>& g, size_t gi,
                   const std::vector<std::string_view>& p, size_t pi, int depth) {
  if (depth > 64) return false;
  if (gi == g.size()) return pi == p.size();
  if (g[gi] == "**") {
    for (size_t k = pi; k <= p.size(); ++k) {
      if (MatchSegments(g, gi + 1, p, k, depth + 1)) return true;
    }
    return false;
  }
  if (pi == p.size() || !SegmentMatches(g[gi], p[pi])) return false;
  return MatchSegments(g, gi + 1, p, pi + 1, depth + 1);
}

}  // namespace

const std::vector<std::string>& DefaultPassResponseHeaders() {
  static const std::vector<std::string> kDefault = {"content-type", "cache-control", "x-request-id",
                                                    "retry-after",  "openai-*",      "anthropic-*",
                                                    "x-ratelimit-*"};
  return kDefault;
}

StatusOr<BindingConfig> ParseBindingConfig(std::string_view json) {
  ASSIGN_OR_RETURN(const boost::json::object o, ParseObject(json, "config"));
  RETURN_IF_ERROR(
      RefuseUnknown(o, "config",
                    {"base_url", "auth_type", "auth_header", "auth_prefix", "auth_query_param",
                     "basic_user", "headers", "pass_response_headers"}));
  BindingConfig c;
  const auto* base_url = o.if_contains("base_url");
  if (base_url == nullptr) return Err(ConfigError("base_url", "is required"));
  if (!base_url->is_string()) return Err(ConfigError("base_url", "must be a string"));
  RETURN_IF_ERROR(ParseBaseUrl(std::string_view(base_url->as_string()), c));
  if (const auto* v = o.if_contains("auth_type")) {
    ASSIGN_OR_RETURN(std::string type, StringField(*v, "auth_type"));
    if (type != "bearer" && type != "basic" && type != "header" && type != "query") {
      return Err(ConfigError("auth_type", "must be one of: bearer, basic, header, query"));
    }
    c.auth_type = std::move(type);
  }
  if (const auto* v = o.if_contains("auth_header")) {
    ASSIGN_OR_RETURN(std::string name, StringField(*v, "auth_header"));
    name = Lower(name);
    if (!IsToken(name)) return Err(ConfigError("auth_header", "must be a header name"));
    const bool authorization = name == "authorization" || name == "proxy-authorization";
    if (IsReservedRequestHeader(name) && !authorization) {
      return Err(ConfigError("auth_header", fmt::format("may not be {}", name)));
    }
    c.auth_header = std::move(name);
  }
  if (c.auth_type == "header" && c.auth_header.empty()) {
    return Err(ConfigError("auth_header", "is required when auth_type is header"));
  }
  if (c.auth_type != "header" && !c.auth_header.empty()) {
    return Err(ConfigError("auth_header", "applies only when auth_type is header"));
  }
  c.auth_prefix = c.auth_type == "bearer" ? "Bearer " : "";
  if (const auto* v = o.if_contains("auth_prefix")) {
    ASSIGN_OR_RETURN(c.auth_prefix, StringField(*v, "auth_prefix", 64));
    if (c.auth_type == "basic" || c.auth_type == "query") {
      return Err(ConfigError("auth_prefix", "applies only when auth_type is bearer or header"));
    }
  }
  if (const auto* v = o.if_contains("auth_query_param")) {
    ASSIGN_OR_RETURN(c.auth_query_param, StringField(*v, "auth_query_param", 128));
    if (c.auth_type != "query") {
      return Err(ConfigError("auth_query_param", "applies only when auth_type is query"));
    }
    const bool ok =
        !c.auth_query_param.empty() &&
        std::all_of(c.auth_query_param.begin(), c.auth_query_param.end(), [](unsigned char ch) {
          return std::isalnum(ch) != 0 || ch == '_' || ch == '-' || ch == '.' || ch == '~';
        });
    if (!ok) return Err(ConfigError("auth_query_param", "must be of [A-Za-z0-9._~-]"));
  }
  if (c.auth_type == "query" && c.auth_query_param.empty()) {
    return Err(ConfigError("auth_query_param", "is required when auth_type is query"));
  }
  if (const auto* v = o.if_contains("basic_user")) {
    ASSIGN_OR_RETURN(c.basic_user, StringField(*v, "basic_user", 256));
    if (c.auth_type != "basic") {
      return Err(ConfigError("basic_user", "applies only when auth_type is basic"));
    }
    if (c.basic_user.find(':') != std::string::npos) {
      return Err(ConfigError("basic_user", "must not contain ':'"));
    }
  }
  if (const auto* v = o.if_contains("headers")) RETURN_IF_ERROR(ParseHeaders(*v, c));
  if (!c.auth_header.empty()) {
    for (const auto& [name, value] : c.headers) {
      if (name == c.auth_header) {
        return Err(ConfigError("headers", "may not set the credential's header"));
      }
    }
  }
  if (const auto* v = o.if_contains("pass_response_headers")) {
    RETURN_IF_ERROR(ParsePassList(*v, c));
  } else {
    c.pass_response_headers = DefaultPassResponseHeaders();
  }
  return c;
}

std::string BindingConfigJson(const BindingConfig& c) {
  boost::json::object o;
  o["base_url"] = c.base_url;
  o["auth_type"] = c.auth_type;
  if (!c.auth_header.empty()) o["auth_header"] = c.auth_header;
  if (c.auth_type == "bearer" || c.auth_type == "header") o["auth_prefix"] = c.auth_prefix;
  if (!c.auth_query_param.empty()) o["auth_query_param"] = c.auth_query_param;
  if (!c.basic_user.empty()) o["basic_user"] = c.basic_user;
  boost::json::object headers;
  for (const auto& [name, value] : c.headers) headers[name] = value;
  o["headers"] = std::move(headers);
  boost::json::array pass;
  for (const auto& name : c.pass_response_headers) pass.emplace_back(name);
  o["pass_response_headers"] = std::move(pass);
  return boost::json::serialize(o);
}

StatusOr<BindingGuardrails> ParseBindingGuardrails(std::string_view json) {
  ASSIGN_OR_RETURN(const boost::json::object o, ParseObject(json, "guardrails"));
  RETURN_IF_ERROR(RefuseUnknown(
      o, "guardrails",
      {"allowed_methods", "allowed_paths", "max_requests_per_minute", "max_requests_per_day",
       "max_duration_ms", "max_request_bytes", "max_response_bytes"}));
  BindingGuardrails g;
  if (const auto* v = o.if_contains("allowed_methods"); v != nullptr && !v->is_null()) {
    if (!v->is_array() || v->as_array().empty()) {
      return Err(GuardrailError("allowed_methods", "must be a non-empty array of methods"));
    }
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) return Err(GuardrailError("allowed_methods", "must list strings"));
      std::string method(item.as_string());
      std::transform(method.begin(), method.end(), method.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      if (std::find(kAllMethods.begin(), kAllMethods.end(), method) == kAllMethods.end()) {
        return Err(GuardrailError("allowed_methods",
                                  "must list methods of: GET, HEAD, POST, PUT, PATCH, DELETE"));
      }
      if (std::find(g.allowed_methods.begin(), g.allowed_methods.end(), method) ==
          g.allowed_methods.end()) {
        g.allowed_methods.push_back(std::move(method));
      }
    }
  } else {
    g.allowed_methods.assign(kAllMethods.begin(), kAllMethods.end());
  }
  if (const auto* v = o.if_contains("allowed_paths"); v != nullptr && !v->is_null()) {
    if (!v->is_array() || v->as_array().empty() || v->as_array().size() > kMaxBindingListItems) {
      return Err(GuardrailError(
          "allowed_paths", fmt::format("must be an array of 1 to {} globs", kMaxBindingListItems)));
    }
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) return Err(GuardrailError("allowed_paths", "must list strings"));
      std::string_view glob(item.as_string());
      if (glob.starts_with("/")) glob.remove_prefix(1);
      RETURN_IF_ERROR(ValidateGlob(glob));
      g.allowed_paths.emplace_back(glob);
    }
  } else {
    g.allowed_paths = {"**"};
  }
  ASSIGN_OR_RETURN(g.max_requests_per_minute,
                   IntField(o, "max_requests_per_minute", 1, kMaxBindingRpm, kDefaultBindingRpm));
  if (const auto* v = o.if_contains("max_requests_per_day"); v != nullptr && !v->is_null()) {
    ASSIGN_OR_RETURN(const int64_t day,
                     IntField(o, "max_requests_per_day", 1, int64_t{1'000'000'000}, 0));
    g.max_requests_per_day = day;
  }
  ASSIGN_OR_RETURN(g.max_duration_ms, IntField(o, "max_duration_ms", kMinBindingDurationMs,
                                               kMaxBindingDurationMs, kDefaultBindingDurationMs));
  ASSIGN_OR_RETURN(g.max_request_bytes, IntField(o, "max_request_bytes", 0, kMaxBindingBodyBytes,
                                                 kDefaultMaxRequestBytes));
  ASSIGN_OR_RETURN(g.max_response_bytes, IntField(o, "max_response_bytes", 0, kMaxBindingBodyBytes,
                                                  kDefaultMaxResponseBytes));
  return g;
}

std::string BindingGuardrailsJson(const BindingGuardrails& g) {
  boost::json::object o;
  boost::json::array methods;
  for (const auto& m : g.allowed_methods) methods.emplace_back(m);
  o["allowed_methods"] = std::move(methods);
  boost::json::array paths;
  for (const auto& p : g.allowed_paths) paths.emplace_back(p);
  o["allowed_paths"] = std::move(paths);
  o["max_requests_per_minute"] = g.max_requests_per_minute;
  if (g.max_requests_per_day.has_value()) o["max_requests_per_day"] = *g.max_requests_per_day;
  o["max_duration_ms"] = g.max_duration_ms;
  o["max_request_bytes"] = g.max_request_bytes;
  o["max_response_bytes"] = g.max_response_bytes;
  return boost::json::serialize(o);
}

Status CheckBindingDestination(const BindingConfig& config, const gateway::EgressGuard& guard) {
  if (config.scheme == "https") return OkStatus();
  const auto inside = [&guard](const IpAddress& address) {
    return std::any_of(
        guard.allow().begin(), guard.allow().end(),
        [&](const gateway::CidrBlock& b) { return gateway::BlockContains(b, address); });
  };
  const Status refused =
      ConfigError("base_url",
                  "must use https (plain http only to a host inside the operator's egress "
                  "allow-list, --egress-allow)");
  if (auto literal = ParseIpAddress(config.host)) {
    return inside(*literal) ? OkStatus() : refused;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(config.host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return ConfigError("base_url", "names a host that does not resolve (needed for plain http)");
  }
  bool all_inside = true;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = nullptr;
    if (a->ai_family == AF_INET) {
      raw = &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr;
    } else if (a->ai_family == AF_INET6) {
      raw = &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    if (inet_ntop(a->ai_family, raw, text, sizeof(text)) == nullptr) {
      all_inside = false;
      break;
    }
    auto address = ParseIpAddress(text);
    if (!address.has_value() || !inside(*address)) {
      all_inside = false;
      break;
    }
  }
  freeaddrinfo(found);
  return all_inside ? OkStatus() : refused;
}

bool BindingPathMatches(std::string_view glob, std::string_view path) {
  if (path.starts_with("/")) path.remove_prefix(1);
  return MatchSegments(Segments(glob), 0, Segments(path), 0, 0);
}

bool PassesResponseHeader(const std::vector<std::string>& pass, std::string_view name) {
  if (IsNeverPassedResponseHeader(name)) return false;
  return std::any_of(pass.begin(), pass.end(), [name](const std::string& entry) {
    if (entry.ends_with("*")) {
      return name.starts_with(std::string_view(entry).substr(0, entry.size() - 1));
    }
    return name == entry;
  });
}

}  // namespace coffer
