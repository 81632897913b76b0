// One transaction on a pooled PostgreSQL connection, with the retry policy every writer of the
// backend shares (the Store's writes and the audit batcher's appends): what is run again after a
// failed attempt, how many times, and when the pool's idle connections are dropped.
#pragma once

#include <functional>

#include "common/status.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_pool.h"

namespace coffer {

// Runs `body(conn)` between BEGIN and COMMIT on a connection leased from `pool`. A failed
// attempt is rolled back; it is run again from the start, on a fresh lease, after a
// serialization failure or deadlock (PgConnection::retryable()) or when the connection was
// lost before COMMIT was sent, up to 5 attempts in all. `body` may therefore run more than
// once: whatever it hands back to the caller it must set up afresh on each run. Returns OK once
// committed; otherwise the last attempt's failure, or the pool's when no connection can be
// had. Thread-safe (each call leases its own connection).
Status RunPgTransaction(PgPool& pool, const std::function<Status(PgConnection&)>& body);

}  // namespace coffer
