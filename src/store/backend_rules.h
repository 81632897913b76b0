// What both Store backends (sqlite/, postgres/) say and check the same way, so that a caller gets
// the same Status from either: error wording, the principal kind a row names, the check that an
// agent's credentials are its own, and a new version's row. Internal to the backends.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/identity.h"
#include "model/secret.h"
#include "store/store.h"

namespace coffer::store_internal {

// `s` with `message` when it has `code`, else unchanged.
Status Reword(Status s, StatusCode code, std::string message);

// "version N not found".
std::string VersionNotFound(int64_t version);

// What a read of the version `selector` names answers when the secret's row is found but the
// version's is not: kGone when every version is disabled (kLatestEnabled), kNotFound for an
// exact version or an alias that is not set, kDataLoss when the latest version's row is missing.
Status MissingVersionError(const VersionSelector& selector);

// PutSecretVersion's refusal when its expected_latest does not hold: kFailedPrecondition with
// payload precondition_failed, naming the latest version (`latest` 0: no secret at the path).
Status LatestVersionMismatch(int64_t latest, int64_t expected);

// --- version lifecycle (aliases, destroy, retention) -------------------------------------------
// OK for a version that may be read; else kFailedPrecondition saying that `alias` cannot name
// it because it is destroyed or disabled.
Status AliasTargetRefusal(int64_t version, std::string_view alias, bool disabled, bool destroyed);
// Promote's (from "pending") or rollback's (from "previous") message when `from` is not set.
std::string NoAliasToMove(std::string_view from);
// "alias NAME is not set".
std::string AliasNotSet(std::string_view alias);
// DestroySecretVersion's message when `current` or `pending` names the version.
std::string AliasHoldsVersion(std::string_view alias, int64_t version);
// The kept-version limit that applies: the smaller of the two that are not 0 (0: none).
int64_t KeptVersionLimit(int64_t secret_max_versions, int64_t vault_max_versions);
// Which of the `live` (not destroyed) versions, ascending, retention destroys under `limit`
// (> 0): the oldest ones, while more than `limit` are live, skipping those `current` or
// `pending` names.
std::vector<int64_t> RetentionVictims(const std::vector<int64_t>& live,
                                      const std::map<std::string, int64_t>& aliases, int64_t limit);

// The principal kind a row names; kDataLoss (naming `row_kind`) for one this binary does not know.
StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view name, std::string_view row_kind);

// The row of version `version` of secret `secret_id` that `in` asks for: every field of `in`, no
// read counted yet, not disabled.
SecretVersion NewVersionRow(const NewSecretVersion& in, std::string secret_id, int64_t version);

// Completes a write's audit event (nullptr: it has none) with the version the write stored.
void NoteStoredVersion(AuditEvent* event, const SecretVersion& version);

// OK when every credential is an agent's, `agent_id`'s; kInvalidArgument otherwise.
Status CheckAgentCredentials(std::string_view agent_id, const std::vector<Credential>& creds);

// A policy's effect and conditions as both stores keep them (see the policy migration).
struct PolicyColumns {
  std::string effect;                        // "allow" | "deny"
  std::optional<int64_t> window_start_hour;  // the four window_ values are all set, or none
  std::optional<int64_t> window_end_hour;
  std::optional<int64_t> window_days;
  std::string window_timezone;  // "" without a window (stored as NULL)
  std::string ip_allowlist;     // JoinIpAllowlist's form
};
PolicyColumns PolicyColumnsOf(const Policy& policy);
// Sets policy.effect and policy.conditions from stored columns; kDataLoss for an effect this
// binary does not know, a window stored in part, or an allow list entry that does not parse.
Status SetPolicyColumns(Policy& policy, const PolicyColumns& columns);

// The table holding stored HMACs of `kind` (pepper rotation), its id column and its HMAC column.
struct PepperTable {
  std::string_view table;
  std::string_view id;
  std::string_view hmac;
};
PepperTable PepperTableOf(PepperHashKind kind);
// The condition on a row of `kind` that can still be presented at the time bound to `param`
// (CountPepperHashes).
std::string PepperLiveSql(PepperHashKind kind, std::string_view param);

}  // namespace coffer::store_internal
