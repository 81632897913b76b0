// SqliteStoreImpl's pepper rotation: the stored HMACs of credentials and share links, each with
// the pepper chain that made it, listed, counted, and replaced when still as read.
#include <string>
#include <string_view>
#include <vector>

#include "store/backend_rules.h"
#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

using store_internal::PepperLiveSql;
using store_internal::PepperTable;
using store_internal::PepperTableOf;

std::string PepperIdsOrActiveSql(std::string_view param) {
  return "COALESCE(NULLIF(" + std::string(param) +
         ", ''), (SELECT CAST(MAX(id) AS TEXT) FROM keys"
         " WHERE purpose = 'hmac-pepper' AND active = 1), '')";
}

Status SqliteStoreImpl::ReplacePepperHash(PepperHashKind kind, std::string_view id,
                                          const std::vector<uint8_t>& expected,
                                          const std::vector<uint8_t>& hmac,
                                          const std::vector<uint32_t>& pepper_ids) {
  const PepperTable t = PepperTableOf(kind);
  const auto body = [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE " + std::string(t.table) + " SET " + std::string(t.hmac) +
                                " = ?3, pepper_ids = ?4 WHERE " + std::string(t.id) + " = ?1 AND " +
                                std::string(t.hmac) + " = ?2"));
    st.BindText(1, id);
    st.BindBlob(2, expected);
    st.BindBlob(3, hmac);
    st.BindText(4, FormatPepperIds(pepper_ids));
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() > 0) {
      return OkStatus();
    }
    ASSIGN_OR_RETURN(SqliteStatement exists, db.Prepare("SELECT 1 FROM " + std::string(t.table) +
                                                        " WHERE " + std::string(t.id) + " = ?1"));
    exists.BindText(1, id);
    ASSIGN_OR_RETURN(const bool found, exists.Step());
    return found ? AbortedError("the stored HMAC changed meanwhile")
                 : NotFoundError("no such credential or share");
  };
  if (kind == PepperHashKind::kCredential) {
    return WriteChange(StoreChange::Credential(std::string(id)), nullptr, body);
  }
  return Write(nullptr, body);
}

StatusOr<std::vector<PepperHash>> SqliteStoreImpl::ListPepperHashes(PepperHashKind kind,
                                                                    std::string_view after_id,
                                                                    size_t limit) {
  const PepperTable t = PepperTableOf(kind);
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(
      SqliteStatement st,
      db->Prepare("SELECT " + std::string(t.id) + ", " + std::string(t.hmac) +
                  ", pepper_ids FROM " + std::string(t.table) + " WHERE " + std::string(t.id) +
                  " > ?1 ORDER BY " + std::string(t.id) + " LIMIT ?2"));
  st.BindText(1, after_id);
  st.BindInt(2, static_cast<int64_t>(limit));
  return ReadAll<PepperHash>(st, [kind](const SqliteStatement& row) {
    return PepperHash{kind, row.ColumnText(0), row.ColumnBlob(1),
                      ParsePepperIds(row.ColumnText(2))};
  });
}

StatusOr<std::vector<PepperHashCount>> SqliteStoreImpl::CountPepperHashes(UnixMicros now) {
  auto db = readers_->Acquire();
  std::vector<PepperHashCount> out;
  for (const PepperHashKind kind : {PepperHashKind::kCredential, PepperHashKind::kShare}) {
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare("SELECT pepper_ids, COUNT(*) FROM " +
                                                     std::string(PepperTableOf(kind).table) +
                                                     " WHERE " + PepperLiveSql(kind, "?1") +
                                                     " GROUP BY pepper_ids ORDER BY pepper_ids"));
    st.BindInt(1, now);
    ASSIGN_OR_RETURN(
        std::vector<PepperHashCount> counts,
        ReadAll<PepperHashCount>(st, [kind](const SqliteStatement& row) {
          return PepperHashCount{kind, ParsePepperIds(row.ColumnText(0)), row.ColumnInt(1)};
        }));
    out.insert(out.end(), counts.begin(), counts.end());
  }
  return out;
}

}  // namespace coffer::sqlite_store_internal
