// The dashboard's routes: /ui/ serves the single-page app's assets (embedded by server/) with a
// strict Content-Security-Policy and the other security headers; any /ui/ path that is not an
// asset is index.html, so the app's client-side routes survive a reload.
#pragma once

#include <span>
#include <string_view>

#include "http/router.h"

namespace coffer::api {

// One built file: its path under the dist dir ("index.html", "assets/app-3f2a1c.js"), its
// Content-Type, its bytes.
struct UiAsset {
  std::string_view path;
  std::string_view content_type;
  std::string_view bytes;
};

struct UiRoutesOptions {
  // The server serves HTTPS: responses carry Strict-Transport-Security.
  bool tls = false;
};

// Registers GET and HEAD /ui (308 to /ui/) and /ui/{*path}. `assets` must outlive the router and
// hold index.html. Files under assets/ have hashed names and are cached for a year (immutable);
// index.html is never cached; a missing assets/ file is a 404 problem+json.
void RegisterUiRoutes(http::Router& router, std::span<const UiAsset> assets,
                      UiRoutesOptions options);

// The headers every /ui response carries (CSP and the rest; HSTS when `tls`).
void AddUiSecurityHeaders(http::Response& response, bool tls);

}  // namespace coffer::api
