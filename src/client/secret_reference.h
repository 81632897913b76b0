// Secret references as `coffer run` reads them from the environment: coffer://VAULT/PATH with an
// optional #VERSION, where VAULT is a vault's name or id and PATH a secret path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace coffer::client {

inline constexpr std::string_view kReferenceScheme = "coffer://";

struct SecretReference {
  std::string vault;  // name or id, as written
  std::string path;
  std::optional<int64_t> version;  // pinned version; nullopt: the latest readable one

  // "coffer://VAULT/PATH" or "coffer://VAULT/PATH#N".
  std::string ToString() const;
  friend bool operator==(const SecretReference&, const SecretReference&) = default;
};

// True when `value` starts with coffer:// (so it is meant as a reference).
bool LooksLikeReference(std::string_view value);

// Parses "coffer://VAULT/PATH[#VERSION]". When `scheme_optional`, "VAULT/PATH[#VERSION]" is
// accepted too (the --bundle form). kInvalidArgument saying what is wrong: no vault, no path,
// a version that is not a positive integer.
StatusOr<SecretReference> ParseSecretReference(std::string_view text, bool scheme_optional = false);

}  // namespace coffer::client
