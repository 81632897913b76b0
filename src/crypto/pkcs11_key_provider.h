// PKCS#11 root key: an RFC 7512 URI names a token, an AES-256 key object in it and the module
// (shared library) to load; the key is generated inside the token, non-extractable and
// sensitive, and seals and opens the keyring's keys there. Its bytes are never in Coffer's memory.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/monotonic_clock.h"
#include "crypto/key_provider.h"

namespace coffer {

// What a pkcs11: URI says. The PIN itself is never part of it: pin-source names a file
// ("file:/etc/coffer/pin" or an absolute path) or an environment variable ("env:NAME").
struct Pkcs11Uri {
  std::string token;        // token label (path attribute "token"); required
  std::string object;       // key label (path attribute "object"); required
  std::string serial;       // token serial number, when given
  std::string module_path;  // query attribute "module-path"; required
  std::string pin_file;     // pin-source=file:…
  std::string pin_env;      // pin-source=env:…
};

// Parses `uri`. kInvalidArgument naming the attribute at fault (never echoing a value that could
// be a PIN): pin-value is refused (a PIN in a URI ends up in argv, shell history and logs), as
// are a missing token, object, module-path or pin-source, and unknown attributes.
StatusOr<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri);

// Which mechanism seals keyring keys: the token's AES key wrap with padding (RFC 5649) when it
// has it, else AES-GCM through C_Encrypt/C_Decrypt. kAuto detects (C_GetMechanismList); the
// others are for tests.
enum class Pkcs11Mechanism { kAuto, kKeyWrapPad, kGcm };

struct Pkcs11Options {
  // Generate the key object in the token when no object of that label exists (coffer init).
  bool create_if_missing = false;
  Pkcs11Mechanism mechanism = Pkcs11Mechanism::kAuto;
  // After a failure, the provider re-opens its session on the next attempt, but no sooner than
  // this after the previous attempt; attempts in between fail at once with kUnavailable.
  std::chrono::milliseconds reopen_interval{1000};
  // Time source for the rate limit (tests inject one); empty: steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
  // Every call into the module runs on one thread that owns the session; a caller waits for it
  // at most this long and then gets kUnavailable (key_provider_unavailable). A call that overran
  // cannot be cancelled: it runs on, and until it returns every call fails at once.
  std::chrono::milliseconds call_timeout = kDefaultKeyProviderTimeout;
  // Times those waits (tests inject a FakeMonotonicClock); null: the system's. Must outlive the
  // provider.
  const MonotonicClock* clock = nullptr;
  // Called on that thread before each call into the module (tests make the token slow with it).
  std::function<void()> before_call;
};

// A provider for the key `uri` names. The module is loaded (dlopen) and the session opened on
// first use, and opened again after a failure (rate-limited by reopen_interval). LoadRootKey
// answers kFailedPrecondition (the key never leaves the token); OpenRootKey answers the one
// long-lived RootKey, whose operations fail with kUnavailable (payload key_provider_unavailable)
// while the token cannot be reached or does not answer within options.call_timeout.
std::unique_ptr<KeyProvider> NewPkcs11KeyProvider(Pkcs11Uri uri, Pkcs11Options options = {});

}  // namespace coffer
