// JSON shapes of API resources (snake_case, RFC 3339 times), as the seeds show them.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "model/secret.h"

namespace coffer::api {

boost::json::object RenderVault(const Vault& vault);

// Metadata of one version, without its value: id, path, type, version, metadata, created_at,
// expires_at, max_access_count, access_count, is_disabled, … Keys the seed's
// SecretCreatedResponse names come first.
boost::json::object RenderSecretMeta(const SecretVersion& version,
                                     boost::json::storage_ptr sp = {});

// One entry of secret-versions.
boost::json::object RenderVersionEntry(const SecretVersion& version);

}  // namespace coffer::api
