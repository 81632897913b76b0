// The dashboard's /ui routes: the embedded assets with their security headers.
#include "api/ui_routes.h"

#include <map>
#include <memory>
#include <string>

#include "http/problem_json.h"

namespace coffer::api {

namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

// Hashed names change with their content: a year, never revalidated.
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

using AssetIndex = std::map<std::string, const UiAsset*, std::less<>>;

http::Response ServeUi(const AssetIndex& index, const UiAsset& page, const std::string& rest,
                       bool tls) {
  http::Response r;
  const UiAsset* asset = &page;
  if (rest.starts_with("assets/")) {
    auto it = index.find(rest);
    if (it == index.end()) {
      r = http::Problem(404, "not-found", "Not found", "no such dashboard asset");
      AddUiSecurityHeaders(r, tls);
      return r;
    }
    asset = it->second;
    r.headers.emplace_back("Cache-Control", std::string(kImmutable));
  } else if (auto it = index.find(rest); it != index.end() && it->second != &page) {
    asset = it->second;  // another top-level file of the dist (favicon.ico, …)
    r.headers.emplace_back("Cache-Control", "no-cache");
  } else {
    r.headers.emplace_back("Cache-Control", "no-store");  // index.html: the app's every route
  }
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->bytes);
  AddUiSecurityHeaders(r, tls);
  return r;
}

}  // namespace

void AddUiSecurityHeaders(http::Response& response, bool tls) {
  auto& h = response.headers;
  h.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  h.emplace_back("X-Frame-Options", "DENY");
  h.emplace_back("Referrer-Policy", "no-referrer");
  h.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  h.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
  h.emplace_back("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
  // X-Content-Type-Options: nosniff is set by the server on every response.
  if (tls) h.emplace_back("Strict-Transport-Security", "max-age=31536000");
}

void RegisterUiRoutes(http::Router& router, std::span<const UiAsset> assets,
                      UiRoutesOptions options) {
  auto index = std::make_shared<AssetIndex>();
  const UiAsset* page = nullptr;
  for (const UiAsset& a : assets) {
    index->emplace(std::string(a.path), &a);
    if (a.path == "index.html") page = &a;
  }
  if (page == nullptr) return;  // nothing to serve: /ui is then a 404 like any unknown path
  const bool tls = options.tls;
  for (const char* method : {"GET", "HEAD"}) {
    router.Add(method, "/ui", [tls](const http::Request&, const http::RouteParams&) {
      http::Response r;
      r.status = 308;
      r.content_type.clear();
      r.headers.emplace_back("Location", "/ui/");
      AddUiSecurityHeaders(r, tls);
      return r;
    });
    // "/ui/" is its own pattern: a rest parameter never matches an empty path.
    router.Add(method, "/ui/", [index, page, tls](const http::Request&, const http::RouteParams&) {
      return ServeUi(*index, *page, "", tls);
    });
    router.Add(method, "/ui/{*path}",
               [index, page, tls](const http::Request&, const http::RouteParams& params) {
                 auto it = params.find("path");
                 static const std::string kEmpty;
                 return ServeUi(*index, *page, it == params.end() ? kEmpty : it->second, tls);
               });
  }
}

}  // namespace coffer::api
