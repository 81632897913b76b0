// AppendAuditEvents and PgAuditBatcher.
#include "store/postgres/pg_audit_chain.h"

#include <algorithm>
#include <string>

#include "store/postgres/pg_transaction.h"

namespace coffer {

namespace {

constexpr int kColumns = 17;

// INSERT of `n` events (kColumns parameters each) and the head's move ($n*17+1 seq, +2 hash),
// in one statement.
std::string InsertSql(size_t n) {
  std::string sql =
      "WITH e AS (INSERT INTO audit_events (seq, at, request_id, actor_kind, actor_id, action,"
      " vault_id, path, version, client_ip, outcome, status, prev_hash, hash, http_status,"
      " request_count, details)"
      " VALUES ";
  int p = 0;
  for (size_t i = 0; i < n; ++i) {
    sql += i == 0 ? "(" : ", (";
    for (int c = 0; c < kColumns; ++c) {
      sql += (c == 0 ? "$" : ", $") + std::to_string(++p);
    }
    sql += ")";
  }
  sql += ") UPDATE audit_head SET seq = $" + std::to_string(p + 1) + ", hash = $" +
         std::to_string(p + 2) + " WHERE id";
  return sql;
}

}  // namespace

Status AppendAuditEvents(PgConnection& conn, std::vector<AuditEvent*>& events) {
  if (events.empty()) {
    return OkStatus();
  }
  ASSIGN_OR_RETURN(PgResult head,
                   conn.Exec("SELECT seq, hash FROM audit_head WHERE id FOR UPDATE"));
  const std::vector<uint8_t> head_hash = head.Bytes(0, 1);
  if (head.rows() != 1 || head_hash.size() != Sha256Digest().size()) {
    return DataLossError("store: the audit chain's head row is missing or malformed");
  }
  std::vector<AuditEvent> chained;
  chained.reserve(events.size());
  int64_t seq = head.Int(0, 0);
  Sha256Digest prev{};
  std::copy(head_hash.begin(), head_hash.end(), prev.begin());
  PgParams params;
  for (const AuditEvent* in : events) {
    AuditEvent e = *in;
    e.seq = ++seq;
    e.prev_hash = prev;
    e.hash = AuditChainHash(e.prev_hash, e);
    prev = e.hash;
    params.Int(e.seq)
        .Int(e.at)
        .Text(e.request_id)
        .Text(e.actor_kind)
        .Text(e.actor_id)
        .Text(e.action)
        .Text(e.vault_id)
        .Text(e.path)
        .Int(e.version)
        .Text(e.client_ip)
        .Text(e.outcome)
        .Text(e.status)
        .Bytes(e.prev_hash)
        .Bytes(e.hash)
        .Int(e.http_status)
        .Int(e.count)
        .Text(e.details);
    chained.push_back(std::move(e));
  }
  params.Int(seq).Bytes(prev);
  RETURN_IF_ERROR(conn.Run(InsertSql(events.size()), params));
  for (size_t i = 0; i < events.size(); ++i) {
    *events[i] = std::move(chained[i]);
  }
  return OkStatus();
}

StatusOr<AuditEvent> PgAuditBatcher::Append(const AuditEvent& event) {
  Pending mine{event, OkStatus(), false};
  MutexLock lock(mu_);
  queue_.push_back(&mine);
  while (true) {
    while (!mine.done && leading_) {
      cv_.Wait(mu_);
    }
    if (mine.done) {
      break;
    }
    // Lead: take what is queued (ours is there: it is not done) and commit it.
    leading_ = true;
    std::vector<Pending*> batch;
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.Unlock();
    Status s = Commit(batch);
    if (!s.ok() && batch.size() > 1) {
      // Find the event at fault: each on its own.
      for (Pending* p : batch) {
        std::vector<Pending*> one = {p};
        p->status = Commit(one);
      }
    } else {
      for (Pending* p : batch) {
        p->status = s;
      }
    }
    lock.Lock();
    for (Pending* p : batch) {
      p->done = true;
    }
    leading_ = false;
    cv_.NotifyAll();
  }
  if (!mine.status.ok()) {
    return Err(mine.status);
  }
  return std::move(mine.event);
}

Status PgAuditBatcher::Commit(std::vector<Pending*>& batch) {
  std::vector<AuditEvent> copies;
  RETURN_IF_ERROR(RunPgTransaction(pool_, [&](PgConnection& conn) -> Status {
    // Fresh copies on every attempt: the batch's events change only once one commits.
    copies.clear();
    copies.reserve(batch.size());
    for (Pending* p : batch) {
      copies.push_back(p->event);
    }
    std::vector<AuditEvent*> events;
    for (AuditEvent& e : copies) {
      events.push_back(&e);
    }
    return AppendAuditEvents(conn, events);
  }));
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->event = std::move(copies[i]);
  }
  return OkStatus();
}

}  // namespace coffer
