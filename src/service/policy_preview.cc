// PolicyService::Preview: which secrets of a vault a policy's path pattern would cover, decided
// by the same matcher (model/path_glob.h) the authorizer applies to every request.
#include <fmt/format.h>

#include "model/path_glob.h"
#include "service/policy_service.h"

namespace coffer {

namespace {
constexpr size_t kListPage = 1000;
}  // namespace

StatusOr<PolicyPreview> PolicyService::Preview(const RequestContext& ctx, std::string_view vault_id,
                                               std::string_view pattern) {
  return deps_.audit.Audited<PolicyPreview>(
      ctx, "policy.preview", [&](AuditEvent& event) -> StatusOr<PolicyPreview> {
        AuditLog::SetTarget(event, vault_id, "");
        ASSIGN_OR_RETURN(Vault vault, OwnedVault(ctx, vault_id));
        if (Status glob = ValidatePathGlob(pattern); !glob.ok()) {
          return Err(InvalidArgumentError(fmt::format("secret_path_pattern: {}", glob.message())));
        }
        PolicyPreview preview;
        std::string after;
        while (true) {
          ASSIGN_OR_RETURN(SecretListPage page,
                           deps_.store.ListSecrets(vault.id, "", after, kListPage));
          for (const SecretSummary& s : page.secrets) {
            if (!PathGlobMatches(pattern, s.path)) continue;
            if (preview.matches.size() == kMaxPolicyPreview) {
              preview.truncated = true;
              return preview;
            }
            preview.matches.push_back(s.path);
          }
          if (page.next_after.empty()) return preview;
          after = std::move(page.next_after);
        }
      });
}

}  // namespace coffer
