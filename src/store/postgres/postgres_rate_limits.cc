// PostgresStoreImpl's sliding-window rate limiter: one call of the SQL function
// coffer_rate_limit_hit (pg_migrations.cc), which serializes the hits of a key under an advisory
// lock, so every server shares one budget.
#include <optional>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

StatusOr<RateLimitDecision> PostgresStoreImpl::HitRateLimit(std::string_view key, UnixMicros window,
                                                            int64_t limit, UnixMicros now) {
  if (window <= 0 || limit < 1) {
    return Err(InvalidArgumentError("store: a rate limit needs a positive window and limit"));
  }
  const std::optional<int64_t> caller_now =
      rate_limit_clock_ == PostgresStoreOptions::RuleClock::kCaller ? std::optional<int64_t>(now)
                                                                    : std::nullopt;
  return Read([&](PgConnection& conn) -> StatusOr<RateLimitDecision> {
    // One statement, so one transaction: the function locks the key, reads the database's
    // clock, trims, counts and records.
    ASSIGN_OR_RETURN(
        PgResult r, conn.Exec("SELECT allowed, retry_after FROM coffer_rate_limit_hit($1, $2,"
                              " $3, $4)",
                              PgParams().Text(key).Int(window).Int(limit).OptionalInt(caller_now)));
    if (r.rows() != 1) {
      return Err(InternalError("store: the rate limiter returned no decision"));
    }
    return RateLimitDecision{r.Bool(0, 0), r.Int(0, 1)};
  });
}

}  // namespace coffer::postgres_internal
