// Aligned plain-text tables for the client commands' human output.
#pragma once

#include <string>
#include <vector>

namespace coffer::cli {

// Renders `headers` and `rows` as left-aligned columns separated by two spaces, one line each,
// the last column unpadded and no trailing spaces. Widths count UTF-8 code points; control
// characters in cells (newlines, tabs) are shown as spaces, and empty cells as "-". A row shorter
// than the headers is padded with "-". Pure; thread-safe.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace coffer::cli
