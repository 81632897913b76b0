// Reword and Exists, the helpers of sqlite_rows.h that need no template: rewording a constraint
// error, and asking whether a query finds a row.
#include "store/sqlite/sqlite_rows.h"

namespace coffer::sqlite_store_internal {

StatusOr<bool> Exists(SqliteConnection& db, std::string_view sql, std::string_view a,
                      std::optional<std::string_view> b) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(sql));
  st.BindText(1, a);
  if (b.has_value()) {
    st.BindText(2, *b);
  }
  return st.Step();
}

}  // namespace coffer::sqlite_store_internal
