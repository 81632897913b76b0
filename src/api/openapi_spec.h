// The OpenAPI 3.1 description of the API (docs/openapi.yaml), compiled into the binary by
// cmake/EmbedFile.cmake so GET /v1/openapi.yaml never reads a file at run time.
#pragma once

#include <string_view>

namespace coffer::api {

// The bytes of docs/openapi.yaml as it was when the binary was built.
std::string_view OpenApiYaml();

}  // namespace coffer::api
