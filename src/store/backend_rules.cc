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

SecretVersion NewVersionRow(const NewSecretVersion& in, std::string secret_id, int64_t version) {
  SecretVersion row;
  row.secret_id = std::move(secret_id);
  row.vault_id = in.vault_id;
  row.path = in.path;
  row.version = version;
  row.type = in.type;
  row.metadata_json = in.metadata_json;
  row.rotation_policy_json = in.rotation_policy_json;
  row.expires_at = in.expires_at;
  row.max_access_count = in.max_access_count;
  row.created_at = in.created_at;
  row.created_by = in.created_by;
  return row;
}

void NoteStoredVersion(AuditEvent* event, const SecretVersion& version) {
  if (event != nullptr) {
    event->vault_id = version.vault_id;
    event->path = version.path;
    event->version = version.version;
  }
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
