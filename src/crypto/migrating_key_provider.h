// A root key on the move: the key provider of a server that names two root keys (--root-key-uri
// and --next-root-key-uri), so it follows a `coffer keys migrate-root` done by another process
// without a restart. Both are named by the operator, never read from the store: a store writer
// must not be able to point a server at a PKCS#11 module of its choosing (loading one runs its
// code).
#pragma once

#include <memory>

#include "crypto/key_provider.h"

namespace coffer {

// Opens each keyring key with whichever of the two root keys sealed it (the sealed form names
// the kind: a key file's, or a PKCS#11 token's), trying the other when that one cannot; seals
// new keys with the root key that opened a key last (the one the store has moved to), `current`
// until then. Each root key is opened on first need, so one that is gone (the old key file
// removed after the migration) is no trouble while the other serves. Readiness and the failure
// count follow the root key in use. Thread-safe.
std::unique_ptr<KeyProvider> NewMigratingKeyProvider(std::unique_ptr<KeyProvider> current,
                                                     std::unique_ptr<KeyProvider> next);

}  // namespace coffer
