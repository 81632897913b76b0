// The wording and checks both Store backends share.
#include "store/backend_rules.h"

#include <utility>

namespace coffer::store_internal {

Status Reword(Status s, StatusCode code, std::string message) {
  if (s.code() != code) {
    return s;
  }
  return Status(code, std::move(message));
}

std::string VersionNotFound(int64_t version) {
  return "version " + std::to_string(version) + " not found";
}

StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view name, std::string_view row_kind) {
  if (name == PrincipalKindName(PrincipalKind::kUser)) {
    return PrincipalKind::kUser;
  }
  if (name == PrincipalKindName(PrincipalKind::kAgent)) {
    return PrincipalKind::kAgent;
  }
  return Err(DataLossError("store: a " + std::string(row_kind) + " has an unknown principal kind"));
}

Status CheckAgentCredentials(std::string_view agent_id, const std::vector<Credential>& creds) {
  for (const Credential& c : creds) {
    if (c.principal_kind != PrincipalKind::kAgent || c.principal_id != agent_id) {
      return InvalidArgumentError("store: a credential does not belong to the agent");
    }
  }
  return OkStatus();
}

}  // namespace coffer::store_internal
