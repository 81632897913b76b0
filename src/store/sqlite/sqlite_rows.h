// Row readers and small SQL helpers that several concerns of SqliteStoreImpl share: every row of
// a statement, a row by id, rows by owner, whether a query finds a row. Internal to the
// sqlite_*.cc files of this folder.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/backend_rules.h"
#include "store/sqlite/sqlite_connection.h"

namespace coffer::sqlite_store_internal {

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

// True when `sql` (with ?1, ?2 bound to a and b) returns a row.
StatusOr<bool> Exists(SqliteConnection& db, std::string_view sql, std::string_view a,
                      std::optional<std::string_view> b = std::nullopt);

// Every row of `st`, read by `read` (returning T or StatusOr<T>).
template <typename T, typename Read>
StatusOr<std::vector<T>> ReadAll(SqliteStatement& st, Read read) {
  std::vector<T> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) {
      return out;
    }
    if constexpr (std::is_same_v<std::invoke_result_t<Read, const SqliteStatement&>, T>) {
      out.push_back(read(st));
    } else {
      ASSIGN_OR_RETURN(T value, read(st));
      out.push_back(std::move(value));
    }
  }
}

// The row of `columns_sql` (a SELECT … FROM table) whose id is `id`; kNotFound `not_found`.
template <typename T>
StatusOr<T> GetById(SqliteConnection& db, std::string_view columns_sql, std::string_view id,
                    std::string_view not_found, T (*read)(const SqliteStatement&)) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(std::string(columns_sql) + " WHERE id = ?1"));
  st.BindText(1, id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError(std::string(not_found)));
  }
  return read(st);
}

// Every row of `columns_sql`, or those of `owner_id`, in creation order (rowid breaks ties in
// insertion order).
template <typename T>
StatusOr<std::vector<T>> ListByOwner(SqliteConnection& db, std::string_view columns_sql,
                                     std::optional<std::string_view> owner_id,
                                     T (*read)(const SqliteStatement&)) {
  std::string sql(columns_sql);
  sql += owner_id.has_value() ? " WHERE owner_id = ?1 ORDER BY created_at, rowid"
                              : " ORDER BY created_at, rowid";
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(sql));
  if (owner_id.has_value()) {
    st.BindText(1, *owner_id);
  }
  return ReadAll<T>(st, read);
}

// Inserts a credential row (sqlite_identity.cc). kAlreadyExists when the public id is taken.
Status InsertCredentialRow(SqliteConnection& db, const Credential& c);
// The SQL of a stored pepper chain from parameter `param` (FormatPepperIds): the active pepper's
// id when the chain is empty (a row written without one).
std::string PepperIdsOrActiveSql(std::string_view param);

}  // namespace coffer::sqlite_store_internal
