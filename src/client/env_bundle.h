// env_bundle secrets: KEY=VALUE lines that `coffer run --bundle` turns into environment
// variables. Blank lines and lines starting with '#' are skipped; "export " before a key and
// matching single or double quotes around a value are accepted (as in a .env file).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer::client {

struct EnvEntry {
  std::string name;
  SecretBuffer value;
};

// True for a portable environment variable name: [A-Za-z_][A-Za-z0-9_]*.
bool IsEnvName(std::string_view name);

// Parses a bundle. kInvalidArgument naming the line number and what is wrong (never the line's
// text: it holds a secret).
StatusOr<std::vector<EnvEntry>> ParseEnvBundle(std::string_view text);

}  // namespace coffer::client
