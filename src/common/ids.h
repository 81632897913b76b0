// Identifiers: random UUIDv4 strings for vaults, secrets, users, agents and requests; time-ordered
// UUIDv7 strings for records.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/random.h"

namespace coffer {

// A new random (version 4) UUID in canonical lower-case form, from `random`. Aborts the process
// if `random` fails: without randomness no identifier (or key) is safe to hand out.
// Thread-safe as `random` is.
std::string NewUuid(Random& random);

// A new time-ordered (version 7, RFC 9562) UUID: the 48-bit Unix time in milliseconds of
// `unix_micros`, then 74 random bits. For records written in the order they happen (a call's
// execution record), whose index then grows at its end instead of at random places. Aborts as
// NewUuid does.
std::string NewUuidV7(Random& random, int64_t unix_micros);

// NewUuid(DefaultRandom()), for code with no Random of its own to draw from (test fixtures);
// services and stores draw from the one they were given.
std::string NewUuid();

// True for a canonical UUID string (any version, either case).
bool IsUuid(std::string_view s);

}  // namespace coffer
