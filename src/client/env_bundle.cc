// Parsing of env_bundle secrets into environment variables.
#include "client/env_bundle.h"

#include <fmt/format.h>

namespace coffer::client {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool IsEnvName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

StatusOr<std::vector<EnvEntry>> ParseEnvBundle(std::string_view text) {
  std::vector<EnvEntry> out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export ")) line = Trim(line.substr(7));
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Err(
          InvalidArgumentError(fmt::format("env bundle line {}: expected KEY=VALUE", line_no)));
    }
    const std::string_view name = Trim(line.substr(0, eq));
    if (!IsEnvName(name)) {
      return Err(InvalidArgumentError(fmt::format(
          "env bundle line {}: the name must be letters, digits and '_' (not starting with a "
          "digit)",
          line_no)));
    }
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out.push_back(EnvEntry{std::string(name), SecretBuffer(value)});
  }
  return out;
}

}  // namespace coffer::client
