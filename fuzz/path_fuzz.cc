// Secret paths and percent-decoding. For each input: (1) the input as a raw request target goes
// through the server's target decoding (http/request_target.h) — no crash, and no NUL byte ever
// reaches a segment or query parameter; (2) the input as a secret path and as a list prefix is
// validated by the model's rules and by a naive reference written here — they must agree, and an
// error message must stay short (never echoing a long input); (3) a valid path placed in every
// secret route of the real router, raw, fully percent-encoded, and with only '/' as %2F, must
// decode and route back to exactly that path (and the version / vault id around it); (4) any
// bytes (NUL removed), fully percent-encoded as one segment or one query value, decode back to
// the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_env.h"
#include "http/request_target.h"
#include "http/router.h"
#include "model/secret_path.h"

namespace {

using coffer::fuzz::Check;
using coffer::http::Request;
using coffer::http::RouteMatch;
using coffer::http::Router;

bool RefIsPathChar(char c) {
  return std::string_view("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
             .find(c) != std::string_view::npos;
}

// The documented rules, spelled out the slow way: split on '/', check each piece.
bool RefValidPath(std::string_view path) {
  if (path.empty() || path.size() > coffer::kMaxSecretPathLength) {
    return false;
  }
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      pieces.push_back(path.substr(start, i - start));
      start = i + 1;
    }
  }
  if (pieces.size() > coffer::kMaxSecretPathSegments) {
    return false;
  }
  for (std::string_view piece : pieces) {
    if (piece.empty() || piece == "." || piece == "..") {
      return false;
    }
    for (char c : piece) {
      if (!RefIsPathChar(c)) {
        return false;
      }
    }
  }
  return true;
}

bool RefValidPrefix(std::string_view prefix) {
  if (prefix.empty()) {
    return true;
  }
  if (prefix.size() > coffer::kMaxSecretPathLength) {
    return false;
  }
  if (prefix.back() == '/') {
    prefix.remove_suffix(1);
  }
  return RefValidPath(prefix);
}

std::string PercentEncode(std::string_view bytes, bool everything) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (everything || c == '/') {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A router with the real /v1 patterns whose handlers do nothing: only matching is under test.
const Router& PatternRouter() {
  static const Router* router = [] {
    auto* r = new Router();
    for (const auto& [method, pattern] : coffer::fuzz::FuzzEnv::Get().Routes()) {
      r->Add(method, pattern, [](const Request&, const coffer::http::RouteParams&) {
        return coffer::http::Response{};
      });
    }
    return r;
  }();
  return *router;
}

Request Decode(const std::string& target) {
  Request request;
  request.target = target;
  Check(!coffer::http::ParseRequestTarget(target, request).has_value(),
        "a well-formed target was refused");
  return request;
}

void CheckRoutes(std::string_view path) {
  const Router& router = PatternRouter();
  struct Case {
    const char* method;
    const char* before;  // after /v1/vaults/vlt-1/
    const char* after;
    const char* route;
  };
  static constexpr Case kCases[] = {
      {"GET", "secrets/", "", "/v1/vaults/{vault_id}/secrets/{*path}"},
      {"PUT", "secrets/", "", "/v1/vaults/{vault_id}/secrets/{*path}"},
      {"DELETE", "secrets/", "", "/v1/vaults/{vault_id}/secrets/{*path}"},
      {"POST", "secret-rotate/", "", "/v1/vaults/{vault_id}/secret-rotate/{*path}"},
      {"GET", "secret-versions/", "", "/v1/vaults/{vault_id}/secret-versions/{*path}"},
      {"GET", "secret-version/", "/42", "/v1/vaults/{vault_id}/secret-version/{*path}/{version}"},
      {"POST", "secret-version/", "/42/disable",
       "/v1/vaults/{vault_id}/secret-version/{*path}/{version}/disable"},
  };
  for (const Case& c : kCases) {
    for (int encoding = 0; encoding < 3; ++encoding) {
      std::string encoded = encoding == 0 ? std::string(path) : PercentEncode(path, encoding == 2);
      Request request = Decode(std::string("/v1/vaults/vlt-1/") + c.before + encoded + c.after);
      RouteMatch match = router.Match(c.method, request.segments);
      Check(match.kind == RouteMatch::Kind::kFound, "a valid secret path did not route");
      Check(match.route_template == c.route, "a valid secret path routed to another route");
      Check(match.params["path"] == path, "the routed path differs from the path sent");
      Check(match.params["vault_id"] == "vlt-1", "the routed vault id changed");
      if (std::string_view(c.after).starts_with("/42")) {
        Check(match.params["version"] == "42", "the routed version changed");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  // (1) Arbitrary targets.
  {
    Request request;
    request.target = input;
    if (!coffer::http::ParseRequestTarget(input, request).has_value()) {
      for (const std::string& segment : request.segments) {
        Check(segment.find('\0') == std::string::npos, "a NUL byte reached a path segment");
      }
      for (const auto& [key, value] : request.query) {
        Check(key.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
              "a NUL byte reached a query parameter");
      }
    }
  }

  // (2) Validation agrees with the reference.
  const coffer::Status path_status = coffer::ValidateSecretPath(input);
  Check(path_status.ok() == RefValidPath(input), "ValidateSecretPath disagrees with the reference");
  Check(path_status.message().size() <= 160, "a path error message is too long");
  const coffer::Status prefix_status = coffer::ValidateSecretPrefix(input);
  Check(prefix_status.ok() == RefValidPrefix(input),
        "ValidateSecretPrefix disagrees with the reference");
  Check(prefix_status.message().size() <= 160, "a prefix error message is too long");

  // (3) Valid paths route back to themselves.
  if (path_status.ok()) {
    CheckRoutes(input);
  }

  // (4) Percent-decoding round trips any bytes but NUL.
  std::string bytes;
  for (char c : input) {
    if (c != '\0') {
      bytes.push_back(c);
    }
  }
  if (!bytes.empty()) {
    const Request segment = Decode("/v1/" + PercentEncode(bytes, true) + "/end");
    Check(segment.segments.size() == 3 && segment.segments[1] == bytes,
          "a percent-encoded segment did not decode to its bytes");
    const Request query = Decode("/v1/x?prefix=" + PercentEncode(bytes, true) + "&b=1");
    Check(query.Query("prefix") == std::string_view(bytes),
          "a percent-encoded query value did not decode to its bytes");
    Check(query.Query("b") == std::string_view("1"), "a query parameter after it was lost");
  }
  return 0;
}
