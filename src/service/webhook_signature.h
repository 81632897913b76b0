// Standard Webhooks signatures (https://www.standardwebhooks.com): an endpoint's secret is
// "whsec_" + base64 of its key bytes; a message is signed as
// "v1," + base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/secret_buffer.h"
#include "common/status.h"

namespace coffer {

// How many random bytes a new endpoint's key has.
inline constexpr size_t kWebhookKeyBytes = 32;

// "whsec_" + base64(key).
std::string EncodeWebhookSecret(const SecretBuffer& key);
// The key bytes of "whsec_<base64>" (the prefix is optional, as the spec's libraries allow).
// kInvalidArgument when the rest is not base64 or is empty.
StatusOr<SecretBuffer> DecodeWebhookSecret(std::string_view secret);

// The webhook-signature header's value for one attempt. `timestamp` is Unix seconds.
std::string SignWebhook(const SecretBuffer& key, std::string_view message_id, int64_t timestamp,
                        std::string_view body);

}  // namespace coffer
