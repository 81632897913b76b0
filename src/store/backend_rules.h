// What both Store backends (sqlite/, postgres/) say and check the same way, so that a caller gets
// the same Status from either: error wording, the principal kind a row names, the check that an
// agent's credentials are its own, and a new version's row. Internal to the backends.
#pragma once

#include <cstdint>
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

// The principal kind a row names; kDataLoss (naming `row_kind`) for one this binary does not know.
StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view name, std::string_view row_kind);

// The row of version `version` of secret `secret_id` that `in` asks for: every field of `in`, no
// read counted yet, not disabled.
SecretVersion NewVersionRow(const NewSecretVersion& in, std::string secret_id, int64_t version);

// Completes a write's audit event (nullptr: it has none) with the version the write stored.
void NoteStoredVersion(AuditEvent* event, const SecretVersion& version);

// OK when every credential is an agent's, `agent_id`'s; kInvalidArgument otherwise.
Status CheckAgentCredentials(std::string_view agent_id, const std::vector<Credential>& creds);

}  // namespace coffer::store_internal
