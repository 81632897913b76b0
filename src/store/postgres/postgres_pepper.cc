// PostgresStoreImpl's pepper rotation: the stored HMACs of credentials and share links, each with
// the pepper chain that made it, listed, counted, and replaced when still as read (the UPDATE's
// condition decides between servers racing to rehash one row).
#include <string>
#include <string_view>
#include <vector>

#include "store/backend_rules.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

using store_internal::PepperLiveSql;
using store_internal::PepperTable;
using store_internal::PepperTableOf;

std::string PepperIdsOrActiveSql(std::string_view param) {
  return "COALESCE(NULLIF(" + std::string(param) +
         "::text, ''), (SELECT MAX(id)::text FROM keys"
         " WHERE purpose = 'hmac-pepper' AND active), '')";
}

Status PostgresStoreImpl::ReplacePepperHash(PepperHashKind kind, std::string_view id,
                                            const std::vector<uint8_t>& expected,
                                            const std::vector<uint8_t>& hmac,
                                            const std::vector<uint32_t>& pepper_ids) {
  const PepperTable t = PepperTableOf(kind);
  const auto body = [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("UPDATE " + std::string(t.table) + " SET " + std::string(t.hmac) +
                                   " = $3, pepper_ids = $4 WHERE " + std::string(t.id) +
                                   " = $1 AND " + std::string(t.hmac) + " = $2 RETURNING 1",
                               PgParams().Text(id).Bytes(expected).Bytes(hmac).Text(
                                   FormatPepperIds(pepper_ids))));
    if (r.rows() > 0) {
      return OkStatus();
    }
    ASSIGN_OR_RETURN(PgResult exists, conn.Exec("SELECT 1 FROM " + std::string(t.table) +
                                                    " WHERE " + std::string(t.id) + " = $1",
                                                PgParams().Text(id)));
    return exists.rows() > 0 ? AbortedError("the stored HMAC changed meanwhile")
                             : NotFoundError("no such credential or share");
  };
  if (kind == PepperHashKind::kCredential) {
    return WriteChange(StoreChange::Credential(std::string(id)), nullptr, body);
  }
  return Write(nullptr, body);
}

StatusOr<std::vector<PepperHash>> PostgresStoreImpl::ListPepperHashes(PepperHashKind kind,
                                                                      std::string_view after_id,
                                                                      size_t limit) {
  const PepperTable t = PepperTableOf(kind);
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<PepperHash>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec("SELECT " + std::string(t.id) + ", " + std::string(t.hmac) +
                                   ", pepper_ids FROM " + std::string(t.table) + " WHERE " +
                                   std::string(t.id) + " COLLATE \"C\" > $1 ORDER BY " +
                                   std::string(t.id) + " COLLATE \"C\" LIMIT $2",
                               PgParams().Text(after_id).Int(static_cast<int64_t>(limit))));
    return ReadAll<PepperHash>(r, [kind](const PgResult& rows, int row) {
      return PepperHash{kind, rows.Text(row, 0), rows.Bytes(row, 1),
                        ParsePepperIds(rows.Text(row, 2))};
    });
  });
}

StatusOr<std::vector<PepperHashCount>> PostgresStoreImpl::CountPepperHashes(UnixMicros now) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<PepperHashCount>> {
    std::vector<PepperHashCount> out;
    for (const PepperHashKind kind : {PepperHashKind::kCredential, PepperHashKind::kShare}) {
      ASSIGN_OR_RETURN(
          PgResult r,
          conn.Exec("SELECT pepper_ids, COUNT(*) FROM " + std::string(PepperTableOf(kind).table) +
                        " WHERE " + PepperLiveSql(kind, "$1") +
                        " GROUP BY pepper_ids ORDER BY pepper_ids COLLATE \"C\"",
                    PgParams().Int(now)));
      ASSIGN_OR_RETURN(
          std::vector<PepperHashCount> counts,
          ReadAll<PepperHashCount>(r, [kind](const PgResult& rows, int row) {
            return PepperHashCount{kind, ParsePepperIds(rows.Text(row, 0)), rows.Int(row, 1)};
          }));
      out.insert(out.end(), counts.begin(), counts.end());
    }
    return out;
  });
}

}  // namespace coffer::postgres_internal
