// UserService::RotateApiKey: a user's API key replaced by a new one, the old one kept working
// for an optional grace window (service/key_grace.h).
#include "crypto/api_token.h"
#include "service/auth_service.h"
#include "service/key_grace.h"
#include "service/user_service.h"

namespace coffer {

StatusOr<IssuedCredential> UserService::RotateApiKey(const RequestContext& ctx,
                                                     std::string_view user_id,
                                                     std::string_view key_id,
                                                     int64_t grace_seconds) {
  return deps_.audit.Audited<IssuedCredential>(
      ctx, "apikey.rotate", [&](AuditEvent& event) -> StatusOr<IssuedCredential> {
        ASSIGN_OR_RETURN(User user, Accessible(ctx, user_id));
        RETURN_IF_ERROR(ValidateGraceSeconds(grace_seconds));
        auto old = deps_.store.GetCredential(key_id);
        if (!old.has_value()) {
          return Err(NotFoundAs(old.error(), "API key not found"));
        }
        if (old->principal_kind != PrincipalKind::kUser || old->principal_id != user.id ||
            old->kind != kTokenKindApiKey) {
          return Err(NotFoundError("API key not found"));
        }
        const UnixMicros now = deps_.clock.Now();
        const UnixMicros until = now + grace_seconds * kMicrosPerSecond;
        ASSIGN_OR_RETURN(IssuedCredential fresh,
                         MintCredential(kTokenKindApiKey, PrincipalKind::kUser, user.id, old->name,
                                        keyring_, now));
        event.path =
            KeyAuditPath(PrincipalKind::kUser, user.id, old->public_id, grace_seconds, until);
        Status s = deps_.store.RotateWithGrace(GraceRotation{.principal_kind = PrincipalKind::kUser,
                                                             .principal_id = user.id,
                                                             .old_key_id = old->public_id,
                                                             .fresh = {fresh.credential},
                                                             .at = now,
                                                             .keys_until = until},
                                               AuditLog::Success(event));
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return fresh;
      });
}

}  // namespace coffer
