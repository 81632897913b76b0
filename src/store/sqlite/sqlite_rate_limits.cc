// SqliteStoreImpl's rate limits: a sliding window of hits per key in the rate_limit_hits table,
// pruned, counted and recorded in one write operation, so hits arriving together count in turn.
#include <cstdint>
#include <string_view>

#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

StatusOr<RateLimitDecision> SqliteStoreImpl::HitRateLimit(std::string_view key, UnixMicros window,
                                                          int64_t limit, UnixMicros now) {
  if (window <= 0 || limit < 1) {
    return Err(InvalidArgumentError("store: a rate limit needs a positive window and limit"));
  }
  RateLimitDecision decision;
  RETURN_IF_ERROR(Write(nullptr, [&](SqliteConnection& db, AuditEvent*) -> Status {
    const UnixMicros horizon = now - window;  // hits at or before it have left the window
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("DELETE FROM rate_limit_hits WHERE key = ?1 AND at <= ?2"));
      st.BindText(1, key);
      st.BindInt(2, horizon);
      RETURN_IF_ERROR(st.Run());
    }
    int64_t count = 0;
    UnixMicros oldest = 0;
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT COUNT(*), MIN(at) FROM rate_limit_hits"
                                  " WHERE key = ?1 AND at > ?2"));
      st.BindText(1, key);
      st.BindInt(2, horizon);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (row) {
        count = st.ColumnInt(0);
        oldest = st.ColumnInt(1);
      }
    }
    if (count >= limit) {
      decision = RateLimitDecision{false, oldest + window - now};
      return OkStatus();
    }
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO rate_limit_hits (key, at) VALUES (?1, ?2)"));
    st.BindText(1, key);
    st.BindInt(2, now);
    RETURN_IF_ERROR(st.Run());
    decision = RateLimitDecision{true, 0};
    return OkStatus();
  }));
  return decision;
}

}  // namespace coffer::sqlite_store_internal
