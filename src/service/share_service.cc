// Share links: what a create request may ask for, the link's token and its HMAC, redemption
// (checked, decrypted, then counted in the store with its audit event), revocation, listing.
#include "service/share_service.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/ids.h"
#include "crypto/aead.h"
#include "crypto/api_token.h"

namespace coffer {

namespace {

// Why a create request asks for something Coffer does not do; empty when it does not.
Status CheckRecipient(const CreateShareRequest& r) {
  if (r.recipient_type == kShareRecipientAnyoneWithLink) {
    if (r.has_recipient_id) {
      return InvalidArgumentError(
          "recipient_id: a link for anyone_with_link names no recipient (remove recipient_id)");
    }
    if (r.has_email) {
      return InvalidArgumentError(
          "email: a link for anyone_with_link names no recipient (remove email)");
    }
    return OkStatus();
  }
  if (r.recipient_type == "user" || r.recipient_type == "agent") {
    return InvalidArgumentError(fmt::format(
        "recipient_type: '{}' is not supported: Coffer shares by link only (anyone_with_link); "
        "to give a user or an agent standing access, create a policy on the vault",
        r.recipient_type));
  }
  if (r.recipient_type == "external_email" || r.recipient_type == "creator") {
    return InvalidArgumentError(fmt::format(
        "recipient_type: '{}' is not supported: Coffer sends no email and shares by link only "
        "(anyone_with_link)",
        r.recipient_type));
  }
  return InvalidArgumentError(
      "recipient_type must be one of: user, agent, external_email, anyone_with_link, creator "
      "(Coffer supports anyone_with_link)");
}

Status CheckOptions(const CreateShareRequest& r, UnixMicros now) {
  if (r.permissions.has_value()) {
    for (const std::string& p : *r.permissions) {
      if (p != "read") {
        return InvalidArgumentError(
            "permissions: a share link grants read only (permissions may be [\"read\"])");
      }
    }
  }
  if (r.has_passphrase) {
    return InvalidArgumentError(
        "passphrase is not supported: the link itself is the secret (256 random bits); keep "
        "it as you would the value");
  }
  if (r.has_ip_allowlist) {
    return InvalidArgumentError(
        "ip_allowlist is not supported: Coffer does not restrict share links by address");
  }
  if (r.expires_at <= now) {
    return InvalidArgumentError("expires_at must be in the future");
  }
  const int64_t max = r.max_access_count.value_or(0);
  if (max < 0 || max > kMaxAccessCountLimit) {
    return InvalidArgumentError(
        fmt::format("max_access_count must be between 0 (no limit before expires_at) and {}",
                    kMaxAccessCountLimit));
  }
  return OkStatus();
}

// The refusal a link's own state earns before anything is counted, if any.
Status CheckRedeemable(const Share& share, const SecretVersion& version, UnixMicros now) {
  if (share.is_revoked()) return GoneError("this share link was revoked");
  if (share.expires_at <= now) return GoneError("this share link has expired");
  if (share.max_access_count > 0 && share.access_count >= share.max_access_count) {
    return GoneError("this share link has no accesses left");
  }
  if (version.is_disabled()) return GoneError("the shared version is disabled");
  if (version.expires_at.has_value() && *version.expires_at <= now) {
    return GoneError("the shared secret has expired");
  }
  if (version.max_access_count > 0 && version.access_count >= version.max_access_count) {
    return GoneError("the shared secret has reached its max_access_count");
  }
  return OkStatus();
}

}  // namespace

SecretBuffer ShareService::ShareUrl(const SecretBuffer& token) const {
  const std::string base = options_.public_base_url ? options_.public_base_url() : "";
  constexpr std::string_view kPath = "/v1/share/";
  SecretBuffer url(base.size() + kPath.size() + token.size());
  uint8_t* out = url.data();
  out = std::copy(base.begin(), base.end(), out);
  out = std::copy(kPath.begin(), kPath.end(), out);
  std::copy(token.view().begin(), token.view().end(), out);
  return url;
}

ShareService::ShareService(const ServiceDeps& deps, const Keyring& keyring, AuthService& auth,
                           Options options)
    : deps_(deps), keyring_(keyring), auth_(auth), options_(std::move(options)) {}

StatusOr<CreatedShare> ShareService::Create(const RequestContext& ctx, std::string_view secret_id,
                                            CreateShareRequest request) {
  return deps_.audit.Audited<CreatedShare>(
      ctx, "share.create", [&](AuditEvent& event) -> StatusOr<CreatedShare> {
        const UnixMicros now = deps_.clock.Now();
        if (!IsUuid(secret_id)) return Err(NotFoundError("secret not found"));
        // What a plain read returns: the version `current` names when it is set.
        auto version = deps_.store.GetSecretVersionById(secret_id, VersionSelector::Current());
        if (!version.has_value()) {
          if (version.error().code() == StatusCode::kGone) {
            return Err(GoneError("every version of this secret is disabled"));
          }
          return Err(NotFoundAs(version.error(), "secret not found"));
        }
        version->ciphertext.clear();
        AuditLog::SetTarget(event, version->vault_id, version->path);
        event.version = version->version;
        // Who may share: whoever may read the secret. A vault the caller has no standing in is
        // not confirmed to exist.
        auto vault = deps_.cache.GetVault(version->vault_id);
        if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "secret not found"));
        ASSIGN_OR_RETURN(const bool sees, deps_.authorizer.CanSeeVault(ctx, *vault));
        if (!sees) return Err(NotFoundError("secret not found"));
        RETURN_IF_ERROR(deps_.authorizer.Authorize(ctx, *vault, version->path, Permission::kRead));
        RETURN_IF_ERROR(CheckRecipient(request));
        RETURN_IF_ERROR(CheckOptions(request, now));
        if (version->expires_at.has_value() && *version->expires_at <= now) {
          return Err(GoneError("secret has expired"));
        }
        if (version->max_access_count > 0 && version->access_count >= version->max_access_count) {
          return Err(GoneError("secret has reached its max_access_count"));
        }
        const uint32_t pepper_id = keyring_.WritingPepperId(now);
        ASSIGN_OR_RETURN(MintedToken minted,
                         MintToken(kTokenKindShare, keyring_.PepperKey(pepper_id), deps_.random));
        Share share;
        share.id = NewUuid(deps_.random);
        const std::vector<uint32_t> chain{pepper_id};
        ASSIGN_OR_RETURN(share.token_hmac, keyring_.PepperMac(chain, minted.token.view()));
        share.pepper_ids = chain;
        share.secret_id = version->secret_id;
        share.version = version->version;
        share.vault_id = version->vault_id;
        share.path = version->path;
        share.expires_at = request.expires_at;
        share.max_access_count = request.max_access_count.value_or(0);
        share.created_by = ctx.principal.id;
        share.created_at = now;
        RETURN_IF_ERROR(NotFoundAs(deps_.store.InsertShare(share, AuditLog::Success(event)),
                                   "secret not found"));
        AuditLog::MarkWritten(ctx);
        return CreatedShare{std::move(share), ShareUrl(minted.token)};
      });
}

StatusOr<Share> ShareService::FindByToken(std::string_view token) {
  const uint32_t writing = keyring_.WritingPepperId(deps_.clock.Now());
  // The chains a stored link can be under: [writing] first, then each other held pepper alone,
  // then each pair a rewrap made (inner older than outer).
  const std::vector<uint32_t> held = keyring_.PepperIds();
  std::vector<std::vector<uint32_t>> chains{{writing}};
  for (const uint32_t id : held) {
    if (id != writing) chains.push_back({id});
  }
  for (size_t i = 0; i < held.size(); ++i) {
    for (size_t j = i + 1; j < held.size(); ++j) chains.push_back({held[i], held[j]});
  }
  for (const std::vector<uint32_t>& chain : chains) {
    auto mac = keyring_.PepperMac(chain, token);
    if (!mac.has_value()) continue;
    auto share = deps_.store.GetShareByToken(*mac);
    if (!share.has_value()) {
      if (share.error().code() != StatusCode::kNotFound) return Err(share.error());
      continue;
    }
    if (!share->pepper_ids.empty() && share->pepper_ids != chain) continue;
    if (chain.size() != 1 || chain.front() != writing) {
      const std::vector<uint32_t> to{writing};
      auto rehashed = keyring_.PepperMac(to, token);
      // Conditional on the HMAC found: a server that moved it first wins; a failure leaves the
      // link where it was, still found.
      if (rehashed.has_value() &&
          deps_.store.ReplacePepperHash(PepperHashKind::kShare, share->id, *mac, *rehashed, to)
              .ok()) {
        share->token_hmac = std::move(*rehashed);
        share->pepper_ids = to;
      }
    }
    return share;
  }
  return Err(NotFoundError("share not found"));
}

StatusOr<RedeemedShare> ShareService::Redeem(const RequestContext& anonymous,
                                             std::string_view token) {
  RETURN_IF_ERROR(auth_.AdmitClient(anonymous.client_ip));
  auto redeemed = deps_.audit.Audited<
      RedeemedShare>(anonymous, "share.access", [&](AuditEvent& event) -> StatusOr<RedeemedShare> {
    // Whatever the token's shape, the same HMACs and indexed lookups: an unknown link and a
    // malformed one cost and answer the same.
    auto share = FindByToken(token);
    if (!share.has_value()) return Err(NotFoundAs(share.error(), "share not found"));
    AuditLog::SetTarget(event, share->vault_id, share->path);
    event.version = share->version;
    auto version =
        deps_.store.GetSecretVersionById(share->secret_id, VersionSelector::Exact(share->version));
    if (!version.has_value()) return Err(NotFoundAs(version.error(), "share not found"));
    const UnixMicros now = deps_.clock.Now();
    RETURN_IF_ERROR(CheckRedeemable(*share, *version, now));
    // Decrypt before counting, so a damaged row never spends an access.
    const std::vector<uint8_t> aad =
        SecretAad(version->vault_id, version->secret_id, version->version);
    auto value = keyring_.Decrypt(version->ciphertext, aad);
    if (!value.has_value()) {
      return Err(DataLossError("the stored value failed its integrity check"));
    }
    version->ciphertext.clear();
    auto count = deps_.store.ConsumeShareAccess(share->id, now, AuditLog::Success(event));
    if (!count.has_value()) return Err(NotFoundAs(count.error(), "share not found"));
    AuditLog::MarkWritten(anonymous);
    share->access_count = *count;
    if (version->max_access_count > 0) ++version->access_count;
    return RedeemedShare{std::move(*share), SecretValue{std::move(*version), std::move(*value)}};
  });
  if (!redeemed.has_value() && redeemed.error().code() == StatusCode::kNotFound) {
    // A guessed link spends the address's budget like a guessed credential.
    auth_.NoteResult(anonymous.client_ip, PermissionDeniedError("unknown share link"));
  }
  return redeemed;
}

Status ShareService::Revoke(const RequestContext& ctx, std::string_view id_or_token) {
  auto revoked =
      deps_.audit.Audited<bool>(ctx, "share.revoke", [&](AuditEvent& event) -> StatusOr<bool> {
        auto share =
            IsUuid(id_or_token) ? deps_.store.GetShare(id_or_token) : FindByToken(id_or_token);
        if (!share.has_value()) return Err(NotFoundAs(share.error(), "share not found"));
        // Someone else's share is not confirmed to exist.
        if (share->created_by != ctx.principal.id && !ctx.principal.is_admin) {
          return Err(NotFoundError("share not found"));
        }
        AuditLog::SetTarget(event, share->vault_id, share->path);
        event.version = share->version;
        RETURN_IF_ERROR(NotFoundAs(
            deps_.store.RevokeShare(share->id, deps_.clock.Now(), AuditLog::Success(event)),
            "share not found"));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return revoked.has_value() ? OkStatus() : revoked.error();
}

StatusOr<std::vector<Share>> ShareService::ListOutbound(const RequestContext& ctx) {
  return deps_.audit.Audited<std::vector<Share>>(
      ctx, "share.list", [&](AuditEvent&) -> StatusOr<std::vector<Share>> {
        return deps_.store.ListSharesByCreator(ctx.principal.id);
      });
}

}  // namespace coffer
