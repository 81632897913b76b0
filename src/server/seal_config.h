// unseal.json in the data directory: that the root key is split into unseal shares (how many,
// how many open it, and the split's id). It holds no secret; a server that finds it, and is given
// no root key, starts sealed.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "crypto/shamir.h"
#include "server/config.h"

namespace coffer::server {

struct SealConfig {
  int shares = 0;
  int threshold = 0;
  SplitId split_id{};
};

// <data_dir>/unseal.json
std::string SealConfigPath(const ServerConfig& config);

// The file's content; nullopt when there is none. kFailedPrecondition naming the file when it
// cannot be read or is malformed.
StatusOr<std::optional<SealConfig>> ReadSealConfig(const std::string& path);

// Writes (or replaces) the file, mode 0600, synced.
Status WriteSealConfig(const std::string& path, const SealConfig& seal);

// Whether `config` names a root key of its own (--root-key-uri, --root-key-file,
// COFFER_ROOT_KEY): then unseal.json is not looked at.
bool NamesRootKey(const ServerConfig& config);

}  // namespace coffer::server
