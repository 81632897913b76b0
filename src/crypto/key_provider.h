// Key providers: where the 256-bit root key comes from. It never touches the store.
#pragma once

#include <memory>
#include <string>

#include "common/random.h"
#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

inline constexpr size_t kRootKeySize = 32;

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The root key (32 bytes). kNotFound / kFailedPrecondition with a message fit for an operator
  // (which file or variable, what is wrong), never containing key material.
  virtual StatusOr<SecretBuffer> LoadRootKey() = 0;
  // "key file /var/lib/coffer/root.key", for messages.
  virtual std::string Describe() const = 0;
};

// A file holding the key as 64 hex characters (and an optional newline). Refuses a file that
// others may read (mode & 077).
std::unique_ptr<KeyProvider> NewFileKeyProvider(std::string path);

// An environment variable holding the key as 64 hex characters.
std::unique_ptr<KeyProvider> NewEnvKeyProvider(std::string variable);

// Creates `path` with a fresh random key, mode 0600, failing with kAlreadyExists if it exists
// (never overwrites a root key).
Status CreateRootKeyFile(const std::string& path, Random& random);

}  // namespace coffer
