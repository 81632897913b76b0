// The wording and checks both Store backends share.
#include "store/backend_rules.h"

#include <algorithm>
#include <string>
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

Status LatestVersionMismatch(int64_t latest, int64_t expected) {
  std::string message;
  if (latest == 0) {
    message = "no secret exists at this path (expected its latest version to be " +
              std::to_string(expected) + ")";
  } else if (expected == 0) {
    message = "a secret already exists at this path (its latest version is " +
              std::to_string(latest) + ")";
  } else {
    message = "the secret's latest version is " + std::to_string(latest) + ", not " +
              std::to_string(expected);
  }
  StatusPayload payload;
  payload.precondition_failed = true;
  return Status(StatusCode::kFailedPrecondition, std::move(message), payload);
}

Status AliasTargetRefusal(int64_t version, std::string_view alias, bool disabled, bool destroyed) {
  if (destroyed) {
    return FailedPreconditionError("version " + std::to_string(version) + " is destroyed: alias " +
                                   std::string(alias) + " cannot name it");
  }
  if (disabled) {
    return FailedPreconditionError("version " + std::to_string(version) + " is disabled: alias " +
                                   std::string(alias) + " cannot name it");
  }
  return OkStatus();
}

std::string NoAliasToMove(std::string_view from) {
  return from == kAliasPending ? "no version is pending: nothing to promote"
                               : "no previous version: nothing to roll back to";
}

std::string AliasNotSet(std::string_view alias) {
  return "alias " + std::string(alias) + " is not set";
}

std::string AliasHoldsVersion(std::string_view alias, int64_t version) {
  return "alias " + std::string(alias) + " names version " + std::to_string(version) +
         ": point it at another version before destroying this one";
}

int64_t KeptVersionLimit(int64_t secret_max_versions, int64_t vault_max_versions) {
  if (secret_max_versions <= 0) {
    return std::max<int64_t>(vault_max_versions, 0);
  }
  if (vault_max_versions <= 0) {
    return secret_max_versions;
  }
  return std::min(secret_max_versions, vault_max_versions);
}

std::vector<int64_t> RetentionVictims(const std::vector<int64_t>& live,
                                      const std::map<std::string, int64_t>& aliases,
                                      int64_t limit) {
  std::vector<int64_t> victims;
  auto named = [&](std::string_view alias, int64_t version) {
    const auto it = aliases.find(std::string(alias));
    return it != aliases.end() && it->second == version;
  };
  int64_t remaining = static_cast<int64_t>(live.size());
  for (const int64_t version : live) {
    if (remaining <= limit) {
      break;
    }
    if (named(kAliasCurrent, version) || named(kAliasPending, version)) {
      continue;
    }
    victims.push_back(version);
    --remaining;
  }
  return victims;
}

Status MissingVersionError(const VersionSelector& selector) {
  switch (selector.kind) {
    case VersionSelector::Kind::kLatestEnabled:
    case VersionSelector::Kind::kCurrent:
      return GoneError("every version of this secret is disabled");
    case VersionSelector::Kind::kAlias:
      return NotFoundError(AliasNotSet(selector.alias));
    case VersionSelector::Kind::kExact:
      return NotFoundError(VersionNotFound(selector.version));
    case VersionSelector::Kind::kLatestAny:
      break;
  }
  return DataLossError("store: a secret has no row for its latest version");
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

PolicyColumns PolicyColumnsOf(const Policy& policy) {
  PolicyColumns c;
  c.effect = std::string(PolicyEffectName(policy.effect));
  if (policy.conditions.time_window.has_value()) {
    const TimeWindow& w = *policy.conditions.time_window;
    c.window_start_hour = w.start_hour;
    c.window_end_hour = w.end_hour;
    c.window_days = w.days;
    c.window_timezone = w.timezone;
  }
  c.ip_allowlist = JoinIpAllowlist(policy.conditions.ip_allowlist);
  return c;
}

Status SetPolicyColumns(Policy& policy, const PolicyColumns& columns) {
  if (columns.effect == "allow") {
    policy.effect = PolicyEffect::kAllow;
  } else if (columns.effect == "deny") {
    policy.effect = PolicyEffect::kDeny;
  } else {
    return DataLossError("store: a policy has an effect this version does not know");
  }
  const int set = int{columns.window_start_hour.has_value()} +
                  int{columns.window_end_hour.has_value()} + int{columns.window_days.has_value()} +
                  int{!columns.window_timezone.empty()};
  if (set == 4) {
    TimeWindow w;
    w.start_hour = static_cast<int>(*columns.window_start_hour);
    w.end_hour = static_cast<int>(*columns.window_end_hour);
    w.days = static_cast<uint8_t>(*columns.window_days);
    w.timezone = columns.window_timezone;
    policy.conditions.time_window = std::move(w);
  } else if (set != 0) {
    return DataLossError("store: a policy's time window is stored in part");
  }
  ASSIGN_OR_RETURN(policy.conditions.ip_allowlist, SplitIpAllowlist(columns.ip_allowlist));
  return OkStatus();
}

PepperTable PepperTableOf(PepperHashKind kind) {
  return kind == PepperHashKind::kCredential
             ? PepperTable{"credentials", "public_id", "secret_hmac"}
             : PepperTable{"shares", "id", "token_hmac"};
}

std::string PepperLiveSql(PepperHashKind kind, std::string_view param) {
  const std::string p(param);
  return kind == PepperHashKind::kCredential ? "(revoked_at IS NULL OR revoked_at > " + p + ")"
                                             : "(revoked_at IS NULL AND expires_at > " + p + ")";
}

}  // namespace coffer::store_internal
