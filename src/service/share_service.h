// ShareService: share links of secrets (POST /v1/secrets/{secret_id}/share and friends). A link
// is a capability: whoever holds it may read one pinned version of one secret, without an
// account, at most max_access_count times (0: any number) until it expires or is revoked. The
// link's token (256 random bits) is shown once, in the link; the store keeps only its HMAC under
// the server's pepper, so neither a listing nor a reader of the database can redeem it. Every
// redemption, granted or refused, is audited (never with the link), and refusals of unknown
// links spend the client address's budget of authentication failures. Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/secret_buffer.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "model/share.h"
#include "service/auth_service.h"
#include "service/principal.h"
#include "service/secret_service.h"
#include "service/service_deps.h"

namespace coffer {

// The kind word of share link tokens: cfr_shr_<public id>_<secret>_<crc> (crypto/api_token.h).
inline constexpr std::string_view kTokenKindShare = "shr";

// A create request as the client sent it; the service decides what it may ask for.
struct CreateShareRequest {
  std::string recipient_type;
  bool has_recipient_id = false;
  bool has_email = false;
  std::optional<std::vector<std::string>> permissions;
  std::optional<int64_t> max_access_count;
  UnixMicros expires_at = 0;
  bool has_passphrase = false;
  bool has_ip_allowlist = false;  // a non-empty list
};

struct CreatedShare {
  Share share;
  SecretBuffer share_url;  // <public base URL>/v1/share/<token>: shown once
};

struct RedeemedShare {
  Share share;         // with the access just counted
  SecretValue secret;  // the pinned version's metadata and value
};

class ShareService {
 public:
  struct Options {
    // The server's public base URL ("https://vault.example.com", no trailing slash), read when
    // a link is made. Must be thread-safe.
    std::function<std::string()> public_base_url;
  };
  ShareService(const ServiceDeps& deps, const Keyring& keyring, AuthService& auth, Options options);

  // Makes a link to the latest readable version of secret `secret_id`, for a caller who may
  // read that secret. kNotFound for an unknown secret (or one in a vault the caller cannot
  // see); kPermissionDenied without read permission; kGone when no version can be read;
  // kInvalidArgument naming the field for what Coffer does not support (recipient types other
  // than anyone_with_link, passphrase, ip_allowlist, permissions other than read) or a bad
  // value (expires_at not in the future, max_access_count out of range).
  StatusOr<CreatedShare> Create(const RequestContext& ctx, std::string_view secret_id,
                                CreateShareRequest request);

  // Redeems a link token for anyone (no principal): the pinned version's value, counting one
  // access (durable, with its audit event, before this returns). kResourceExhausted (with
  // retry_after) when the client address is over its budget of refusals; kNotFound for an
  // unknown token, whatever its shape, at the cost of a known one; kGone when the link is
  // revoked, expired or spent, or the version is disabled, expired or spent.
  StatusOr<RedeemedShare> Redeem(const RequestContext& anonymous, std::string_view token);

  // Revokes a share, named by its id (or its link token), for its creator or the admin;
  // idempotent. kNotFound when unknown or another's.
  Status Revoke(const RequestContext& ctx, std::string_view id_or_token);

  // The caller's own shares, newest last. Never a link.
  StatusOr<std::vector<Share>> ListOutbound(const RequestContext& ctx);

  const Clock& clock() const { return deps_.clock; }

 private:
  // <public base URL>/v1/share/<token>, built in memory that is wiped.
  SecretBuffer ShareUrl(const SecretBuffer& token) const;
  // The share whose token is `token`: its HMAC under the writing pepper, then under each other
  // chain the held peppers allow (crypto/keyring.h) until one is stored. A link found under
  // another chain is rehashed under the writing pepper (conditionally). An unknown link costs
  // the same HMACs and lookups whichever pepper real links are on. kNotFound when unknown.
  StatusOr<Share> FindByToken(std::string_view token);

  ServiceDeps deps_;
  const Keyring& keyring_;
  AuthService& auth_;
  Options options_;
};

}  // namespace coffer
