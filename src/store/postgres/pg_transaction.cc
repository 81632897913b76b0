// RunPgTransaction: BEGIN, the body, COMMIT, and the decision whether a failed attempt is run
// again.
#include "store/postgres/pg_transaction.h"

namespace coffer {

namespace {

// A transaction that failed on a serialization failure or deadlock is run again, at most this
// many times in all.
constexpr int kMaxAttempts = 5;

}  // namespace

Status RunPgTransaction(PgPool& pool, const std::function<Status(PgConnection&)>& body) {
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
    Status s = conn->ExecScript("BEGIN");
    if (s.ok()) {
      s = body(*conn);
    }
    bool committing = false;
    if (s.ok()) {
      committing = true;
      s = conn->ExecScript("COMMIT");
    }
    if (s.ok()) {
      return OkStatus();
    }
    // A connection lost before COMMIT was sent took its transaction with it, so running it
    // again is safe; one lost during COMMIT may or may not have committed, so it is not.
    const bool lost_before_commit = conn->lost() && !committing;
    const bool retry = (conn->retryable() || lost_before_commit) && attempt < kMaxAttempts;
    if (conn->InTransaction()) {
      // The attempt's own failure is what counts; a connection left in a transaction is not
      // pooled again (PgPool::Release).
      (void)conn->ExecScript("ROLLBACK");
    }
    if (!retry) {
      return s;
    }
    if (lost_before_commit) {
      pool.DropIdle();
    }
  }
}

}  // namespace coffer
