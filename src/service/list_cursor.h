// Opaque cursors for listings filtered by policy: a store position that may be a path the caller
// may not see, sealed so the caller can hand it back without learning it (not even its length).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/keyring.h"
#include "service/principal.h"

namespace coffer {

// Every sealed cursor starts with this character, which no secret path contains, so `after` can
// hold either a path or a cursor.
inline constexpr char kListCursorMark = '~';

inline bool IsListCursor(std::string_view after) {
  return !after.empty() && after.front() == kListCursorMark;
}

// `path` (a valid secret path) sealed under the keyring's active data key, bound to the vault and
// the principal; always the same length. kInternal if sealing fails. Thread-safe.
StatusOr<std::string> SealListCursor(const Keyring& keyring, std::string_view vault_id,
                                     const Principal& principal, std::string_view path);

// The path sealed in `cursor`. kInvalidArgument when it is not a cursor this keyring sealed for
// this vault and principal (altered, another caller's, or sealed under a retired data key).
// Thread-safe.
StatusOr<std::string> OpenListCursor(const Keyring& keyring, std::string_view vault_id,
                                     const Principal& principal, std::string_view cursor);

}  // namespace coffer
