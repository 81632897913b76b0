// PostgresStore: the Store methods as SQL on pooled connections. Reads are single statements in
// autocommit; writes run in a READ COMMITTED transaction that ends with the audit event (when
// there is one), appended under the audit_head row lock, so every server extends one chain.
// What must be atomic across servers is decided by the database: UPDATE … RETURNING for
// version numbers and counted reads, row locks for compare-and-swap, one SQL function under an
// advisory lock for the rate limiter.
//
// This file opens the store and runs its reads and writes (Read, Write, WriteChange); the
// methods of each section of store.h are in a file of their own (postgres_secrets.cc, …).
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include "store/postgres/pg_migrations.h"
#include "store/postgres/pg_transaction.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer {

namespace {

// The URL without Coffer's own query parameters, and their values.
struct ParsedUrl {
  std::string conninfo;
  std::optional<int> pool_size;
};

StatusOr<ParsedUrl> ParseUrl(std::string_view url) {
  if (!IsPostgresUrl(url)) {
    return Err(InvalidArgumentError("store: a PostgreSQL URL starts with postgres://"));
  }
  ParsedUrl parsed;
  const size_t q = url.find('?');
  parsed.conninfo = std::string(url.substr(0, q));
  if (q == std::string_view::npos) {
    return parsed;
  }
  std::string kept;
  std::string_view query = url.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.starts_with("pool_size=")) {
      const std::string_view value = param.substr(10);
      int n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1 || n > 1000) {
        return Err(InvalidArgumentError("store: pool_size must be a number from 1 to 1000"));
      }
      parsed.pool_size = n;
      continue;
    }
    if (!param.empty()) {
      kept += kept.empty() ? "?" : "&";
      kept += param;
    }
  }
  parsed.conninfo += kept;
  return parsed;
}

}  // namespace

namespace postgres_internal {

PostgresStoreImpl::PostgresStoreImpl(std::unique_ptr<PgPool> pool,
                                     PostgresStoreOptions::RuleClock rate_limit_clock,
                                     const MonotonicClock& clock, Random& random)
    : pool_(std::move(pool)),
      rate_limit_clock_(rate_limit_clock),
      random_(random),
      batcher_(*pool_),
      changes_(ChangeFeed::Writers::kShared, clock) {}

void PostgresStoreImpl::FollowChanges(std::string conninfo, PgChangeListenerOptions options) {
  listener_ = std::make_unique<PgChangeListener>(std::move(conninfo), changes_, std::move(options));
}

StatusOr<UnixMicros> PostgresStoreImpl::DatabaseNow() {
  return Read([&](PgConnection& conn) -> StatusOr<UnixMicros> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT coffer_now_micros()"));
    if (r.rows() != 1) {
      return Err(InternalError("store: the database did not say what time it is"));
    }
    return r.Int(0, 0);
  });
}

Status PostgresStoreImpl::WriteChange(const StoreChange& change, const AuditEvent* audit,
                                      const WriteBody& body) {
  const std::string payload = ChangePayload(change);
  Status s = Write(audit, [&](PgConnection& conn, AuditEvent* event) -> Status {
    RETURN_IF_ERROR(body(conn, event));
    return conn.Run(change.kind == StoreChange::Kind::kSecret ? kAnnounceUncountedChangeSql
                                                              : kAnnounceChangeSql,
                    PgParams().Text(payload));
  });
  changes_.Publish(change);
  return s;
}

Status PostgresStoreImpl::Write(const AuditEvent* audit, const WriteBody& body) {
  return RunPgTransaction(*pool_, [&](PgConnection& conn) -> Status {
    // A fresh copy on every attempt: a failed one may have completed it.
    std::optional<AuditEvent> event;
    if (audit != nullptr) {
      event.emplace(*audit);
    }
    RETURN_IF_ERROR(body(conn, event.has_value() ? &*event : nullptr));
    if (!event.has_value()) {
      return OkStatus();
    }
    std::vector<AuditEvent*> events = {&*event};
    return AppendAuditEvents(conn, events);
  });
}

}  // namespace postgres_internal

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgres://") || url.starts_with("postgresql://");
}

std::string PostgresUrlWithDatabase(std::string_view url, std::string_view database) {
  const size_t host = url.find("://") + 3;
  const size_t slash = url.find('/', host);
  const size_t query = url.find('?', host);
  std::string out(url.substr(0, std::min(slash, query)));
  out += "/";
  out += database;
  if (query != std::string_view::npos) {
    out += url.substr(query);
  }
  return out;
}

std::string RedactPostgresUrl(std::string_view url) {
  std::string out(url);
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = out.find('@', start);
    const size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  const size_t password = out.find("password=");
  if (password != std::string::npos) {
    const size_t value = password + 9;
    const size_t end = out.find('&', value);
    out.replace(value, end == std::string::npos ? std::string::npos : end - value, "***");
  }
  return out;
}

StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresStoreOptions& options) {
  ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(options.url));
  const int pool_size = url.pool_size.value_or(options.pool_size);
  if (pool_size < 1) {
    return Err(InvalidArgumentError("store: pool_size must be at least 1"));
  }
  {
    // Migrations on a connection of their own, so its session lock ends with it.
    ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(url.conninfo));
    RETURN_IF_ERROR(ApplyPgMigrations(*conn, PgMigrations(), options.on_migration_notice));
  }
  auto pool = std::make_unique<PgPool>(url.conninfo, pool_size, options.pool_wait, *options.clock);
  auto store = std::make_unique<postgres_internal::PostgresStoreImpl>(
      std::move(pool), options.rate_limit_clock, *options.clock, *options.random);
  if (options.follow_changes) {
    store->FollowChanges(url.conninfo,
                         PgChangeListenerOptions{.on_state = options.on_follow_state});
  }
  return store;
}

StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace coffer
