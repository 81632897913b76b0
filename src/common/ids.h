// Identifiers: random UUIDv4 strings for vaults, secrets, users, agents and requests.
#pragma once

#include <string>
#include <string_view>

namespace coffer {

// A new random (version 4) UUID in canonical lower-case form. Thread-safe.
std::string NewUuid();

// True for a canonical UUID string (any version, either case).
bool IsUuid(std::string_view s);

}  // namespace coffer
