// Parsing of coffer:// secret references.
#include "client/secret_reference.h"

#include <fmt/format.h>

#include <charconv>

namespace coffer::client {

std::string SecretReference::ToString() const {
  std::string out = fmt::format("{}{}/{}", kReferenceScheme, vault, path);
  if (version.has_value()) out += fmt::format("#{}", *version);
  return out;
}

bool LooksLikeReference(std::string_view value) { return value.starts_with(kReferenceScheme); }

StatusOr<SecretReference> ParseSecretReference(std::string_view text, bool scheme_optional) {
  std::string_view rest = text;
  if (rest.starts_with(kReferenceScheme)) {
    rest.remove_prefix(kReferenceScheme.size());
  } else if (!scheme_optional) {
    return Err(InvalidArgumentError("a secret reference starts with coffer://"));
  }
  SecretReference ref;
  if (const size_t hash = rest.rfind('#'); hash != std::string_view::npos) {
    const std::string_view digits = rest.substr(hash + 1);
    int64_t version = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
        version < 1) {
      return Err(InvalidArgumentError(
          "the version after '#' must be a positive integer (coffer://VAULT/PATH#3)"));
    }
    ref.version = version;
    rest = rest.substr(0, hash);
  }
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return Err(
        InvalidArgumentError("a secret reference names a vault and a path: coffer://VAULT/PATH"));
  }
  ref.vault = std::string(rest.substr(0, slash));
  ref.path = std::string(rest.substr(slash + 1));
  if (ref.path.empty()) {
    return Err(
        InvalidArgumentError("a secret reference needs a path after the vault: "
                             "coffer://VAULT/PATH"));
  }
  return ref;
}

}  // namespace coffer::client
