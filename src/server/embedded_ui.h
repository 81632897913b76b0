// The dashboard's built assets, compiled into the binary: the source defining EmbeddedUiAssets
// is generated at build time from web/dist (or -DCOFFER_UI_DIST) by cmake/EmbedDirectory.cmake.
#pragma once

#include <span>

#include "api/ui_routes.h"

namespace coffer::server {

// Every file of the embedded dist, ordered by path; index.html among them. Static storage.
std::span<const api::UiAsset> EmbeddedUiAssets();

}  // namespace coffer::server
