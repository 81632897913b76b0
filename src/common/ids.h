// Identifiers: random UUIDv4 strings for vaults, secrets, users, agents and requests.
#pragma once

#include <string>
#include <string_view>

#include "common/random.h"

namespace coffer {

// A new random (version 4) UUID in canonical lower-case form, from `random`. Aborts the process
// if `random` fails: without randomness no identifier (or key) is safe to hand out.
// Thread-safe as `random` is.
std::string NewUuid(Random& random);

// NewUuid(DefaultRandom()), for code with no Random of its own to draw from (test fixtures);
// services and stores draw from the one they were given.
std::string NewUuid();

// True for a canonical UUID string (any version, either case).
bool IsUuid(std::string_view s);

}  // namespace coffer
