// Reading PostgreSQL rows into the model's types, and the small helpers that more than one
// concern of PostgresStoreImpl uses. Internal to src/store/postgres: only its postgres_*.cc
// files include it.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"
#include "model/identity.h"
#include "model/secret.h"
#include "store/backend_rules.h"
#include "store/postgres/pg_connection.h"

// The columns ReadVersion() expects, from `secrets AS s` joined with `secret_versions AS v`;
// queries that return the value add v.ciphertext as column kCiphertextColumn.
#define COFFER_PG_VERSION_COLUMNS                                                                 \
  "s.id, s.vault_id, s.path, v.version, v.type, v.metadata_json, v.rotation_policy_json, "        \
  "v.expires_at, v.max_access_count, v.access_count, v.disabled_at, v.created_at, v.created_by, " \
  "v.destroyed_at, s.max_versions, v.last_read_at, COALESCE(v.last_read_by, ''), s.read_count, "  \
  "s.last_read_at, COALESCE(s.last_read_by, '')"

namespace coffer::postgres_internal {

// Shared with the other backend (store/backend_rules.h).
using store_internal::AliasHoldsVersion;
using store_internal::AliasNotSet;
using store_internal::AliasTargetRefusal;
using store_internal::CheckAgentCredentials;
using store_internal::KeptVersionLimit;
using store_internal::LatestVersionMismatch;
using store_internal::MissingVersionError;
using store_internal::NewVersionRow;
using store_internal::NoAliasToMove;
using store_internal::NoteStoredVersion;
using store_internal::ParsePrincipalKind;
using store_internal::PolicyColumns;
using store_internal::PolicyColumnsOf;
using store_internal::RetentionVictims;
using store_internal::Reword;
using store_internal::SetPolicyColumns;
using store_internal::VersionNotFound;

// Of those columns, the version number (NULL where a LEFT JOIN found no version row), and the
// column of the ciphertext after them.
inline constexpr int kVersionColumn = 3;
inline constexpr int kCiphertextColumn = 20;

// `s` from an INSERT into a table whose rows have a unique name besides their id: kAlreadyExists
// becomes `name_taken` when the violated constraint (conn.last_error()) is one of
// `name_constraints`, else `id_taken`. Any other `s` is returned as it is.
Status RewordDuplicate(Status s, const PgConnection& conn,
                       std::initializer_list<std::string_view> name_constraints,
                       std::string name_taken, std::string id_taken);

// Readers of one row each, of the columns the SELECTs of their concern list, in order.
StatusOr<SecretVersion> ReadVersion(const PgResult& r, int row, bool with_ciphertext);
Vault ReadVault(const PgResult& r, int row);
User ReadUser(const PgResult& r, int row);
StatusOr<Credential> ReadCredential(const PgResult& r, int row);
Agent ReadAgent(const PgResult& r, int row);
StatusOr<Policy> ReadPolicy(const PgResult& r, int row);
StatusOr<Sha256Digest> ReadDigest(const PgResult& r, int row, int column);

// Inserts a credential row (postgres_identity.cc). kAlreadyExists when the public id is taken.
Status InsertCredentialRow(PgConnection& conn, const Credential& c);
// The SQL of a stored pepper chain from parameter `param` (FormatPepperIds): the active pepper's
// id when the chain is empty (a row written without one).
std::string PepperIdsOrActiveSql(std::string_view param);
StatusOr<AuditEvent> ReadEvent(const PgResult& r, int row);

// Every row of `r`, read by `read(r, row)` (returning T or StatusOr<T>).
template <typename T, typename Read>
StatusOr<std::vector<T>> ReadAll(const PgResult& r, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    if constexpr (std::is_same_v<std::invoke_result_t<Read, const PgResult&, int>, T>) {
      out.push_back(read(r, row));
    } else {
      ASSIGN_OR_RETURN(T value, read(r, row));
      out.push_back(std::move(value));
    }
  }
  return out;
}

}  // namespace coffer::postgres_internal
