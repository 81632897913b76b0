# Turns every file under a directory (the dashboard's built assets) into a C++ source defining
# `std::span<const coffer::api::UiAsset> NAME()`: each file's path relative to the directory, its
# Content-Type (by extension) and its bytes, so the binary never looks a file up at run time.
# Usage:
#   cmake -DDIR=web/dist -DOUTPUT=file.cc -DNAMESPACE=coffer::server -DNAME=EmbeddedUiAssets
#         -DHEADER=server/embedded_ui.h -P EmbedDirectory.cmake
# The output is rewritten only when it changes, so an unchanged dist compiles nothing.
if(NOT EXISTS "${DIR}/index.html")
  message(FATAL_ERROR "${DIR}/index.html is missing: no dashboard build to embed "
                      "(scripts/build-web.sh builds web/dist; -DCOFFER_UI_DIST names another)")
endif()
file(GLOB_RECURSE files RELATIVE "${DIR}" LIST_DIRECTORIES false "${DIR}/*")
list(SORT files)
set(arrays "")
set(rows "")
set(n 0)
foreach(rel ${files})
  if(rel MATCHES "[\"\\\\]" OR rel MATCHES "(^|/)\\.")
    continue()  # names a C++ string cannot hold as written, and hidden files
  endif()
  string(TOLOWER "${rel}" lower)
  set(type "application/octet-stream")
  if(lower MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(lower MATCHES "\\.m?js$")
    set(type "text/javascript; charset=utf-8")
  elseif(lower MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(lower MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(lower MATCHES "\\.png$")
    set(type "image/png")
  elseif(lower MATCHES "\\.woff2$")
    set(type "font/woff2")
  elseif(lower MATCHES "\\.(json|map)$")
    set(type "application/json")
  elseif(lower MATCHES "\\.ico$")
    set(type "image/x-icon")
  elseif(lower MATCHES "\\.txt$")
    set(type "text/plain; charset=utf-8")
  endif()
  file(READ "${DIR}/${rel}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(REGEX REPLACE "(('[^']+',){16})" "\\1\n    " bytes "${bytes}")
  string(APPEND arrays "constexpr char kFile${n}[${size} + 1] = {\n    ${bytes}'\\0'};\n")
  string(APPEND rows "    {\"${rel}\", \"${type}\", std::string_view(kFile${n}, ${size})},\n")
  math(EXPR n "${n} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from the files of ${DIR} by cmake/EmbedDirectory.cmake; do not edit.
#include <span>
#include <string_view>

#include \"${HEADER}\"

namespace ${NAMESPACE} {

namespace {
${arrays}
constexpr api::UiAsset kAssets[] = {
${rows}};
}  // namespace

std::span<const api::UiAsset> ${NAME}() { return kAssets; }

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
