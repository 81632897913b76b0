// PostgresStoreImpl's gateway rows: agents' bindings, the record of each call made through one,
// and the fixed-window use counters every server on the database shares. A CountUse locks its
// counters' rows (in one order, so two calls never deadlock), checks them all and increments
// them all in one transaction committed without waiting for the WAL's flush: counts are cheap
// to lose, slow to fsync on every gateway call.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "store/postgres/pg_transaction.h"
#include "store/postgres/postgres_rows.h"
#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

constexpr std::string_view kBindingColumnsSql =
    "SELECT id, agent_id, name, binding_type, config_json, guardrails_json, vault_id, path,"
    " is_active, created_by, created_at, updated_at FROM bindings";

Binding ReadBinding(const PgResult& r, int row) {
  Binding b;
  b.id = r.Text(row, 0);
  b.agent_id = r.Text(row, 1);
  b.name = r.Text(row, 2);
  b.binding_type = r.Text(row, 3);
  b.config_json = r.Text(row, 4);
  b.guardrails_json = r.Text(row, 5);
  b.vault_id = r.Text(row, 6);
  b.path = r.Text(row, 7);
  b.is_active = r.Bool(row, 8);
  b.created_by = r.Text(row, 9);
  b.created_at = r.Int(row, 10);
  b.updated_at = r.Int(row, 11);
  return b;
}

constexpr std::string_view kExecutionColumnsSql =
    "SELECT id, agent_id, binding_id, binding_name, intent_type, mode, status, method, path,"
    " upstream_status, secret_version, duration_ms, request_bytes, response_bytes, redactions,"
    " error_message, created_at FROM executions";

ExecutionRecord ReadExecution(const PgResult& r, int row) {
  ExecutionRecord e;
  e.id = r.Text(row, 0);
  e.agent_id = r.Text(row, 1);
  e.binding_id = r.Text(row, 2);
  e.binding_name = r.Text(row, 3);
  e.intent_type = r.Text(row, 4);
  e.mode = r.Text(row, 5);
  e.status = r.Text(row, 6);
  e.method = r.Text(row, 7);
  e.path = r.Text(row, 8);
  e.upstream_status = static_cast<int>(r.Int(row, 9));
  e.secret_version = r.Int(row, 10);
  e.duration_ms = r.Int(row, 11);
  e.request_bytes = r.Int(row, 12);
  e.response_bytes = r.Int(row, 13);
  e.redactions = r.Int(row, 14);
  e.error_message = r.Text(row, 15);
  e.created_at = r.Int(row, 16);
  return e;
}

std::string NameTaken(std::string_view name) {
  return "the agent already has a binding named '" + std::string(name) + "'";
}

// The unique constraint of (agent_id, name), as PostgreSQL names it.
constexpr std::string_view kNameConstraint = "bindings_agent_id_name_key";

// How many CountUse calls pass between two sweeps of ended windows, and the most one deletes.
constexpr uint64_t kSweepEvery = 64;
constexpr int64_t kSweepLimit = 1000;

}  // namespace

Status PostgresStoreImpl::InsertBinding(const Binding& b, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Binding(b.id, b.agent_id);
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO bindings (id, agent_id, name, binding_type, config_json, guardrails_json,"
        " vault_id, path, is_active, created_by, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        PgParams()
            .Text(b.id)
            .Text(b.agent_id)
            .Text(b.name)
            .Text(b.binding_type)
            .Text(b.config_json)
            .Text(b.guardrails_json)
            .Text(b.vault_id)
            .Text(b.path)
            .Bool(b.is_active)
            .Text(b.created_by)
            .Int(b.created_at)
            .Int(b.updated_at));
    s = Reword(std::move(s), StatusCode::kNotFound, "agent not found");
    return RewordDuplicate(std::move(s), conn, {kNameConstraint}, NameTaken(b.name),
                           "a binding with this id exists");
  });
}

StatusOr<Binding> PostgresStoreImpl::GetBinding(std::string_view binding_id) {
  return GetById<Binding>(kBindingColumnsSql, binding_id, "binding not found", ReadBinding);
}

StatusOr<Binding> PostgresStoreImpl::FindBinding(std::string_view agent_id,
                                                 std::string_view id_or_name) {
  return Read([&](PgConnection& conn) -> StatusOr<Binding> {
    // An id match wins over a name match (a binding may be named like another's id).
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kBindingColumnsSql) +
                                               " WHERE agent_id = $1 AND (id = $2 OR name = $2)"
                                               " ORDER BY id = $2 DESC LIMIT 1",
                                           PgParams().Text(agent_id).Text(id_or_name)));
    if (r.rows() == 0) return Err(NotFoundError("binding not found"));
    return ReadBinding(r, 0);
  });
}

StatusOr<std::vector<Binding>> PostgresStoreImpl::ListBindings(std::string_view agent_id) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<Binding>> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kBindingColumnsSql) +
                                               " WHERE agent_id = $1 ORDER BY name COLLATE \"C\"",
                                           PgParams().Text(agent_id)));
    return ReadAll<Binding>(r, ReadBinding);
  });
}

Status PostgresStoreImpl::UpdateBinding(const Binding& b, const AuditEvent* audit) {
  std::string agent_id;  // the stored row's, for the change
  Status s = Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    agent_id.clear();
    auto updated = conn.Exec(
        "UPDATE bindings SET name = $2, binding_type = $3, config_json = $4,"
        " guardrails_json = $5, vault_id = $6, path = $7, is_active = $8,"
        " updated_at = $9 WHERE id = $1 RETURNING agent_id",
        PgParams()
            .Text(b.id)
            .Text(b.name)
            .Text(b.binding_type)
            .Text(b.config_json)
            .Text(b.guardrails_json)
            .Text(b.vault_id)
            .Text(b.path)
            .Bool(b.is_active)
            .Int(b.updated_at));
    if (!updated.has_value()) {
      return RewordDuplicate(std::move(updated.error()), conn, {kNameConstraint}, NameTaken(b.name),
                             NameTaken(b.name));
    }
    const PgResult& r = *updated;
    if (r.rows() == 0) return NotFoundError("binding not found");
    agent_id = r.Text(0, 0);
    return conn.Run(kAnnounceChangeSql,
                    PgParams().Text(ChangePayload(StoreChange::Binding(b.id, agent_id))));
  });
  if (!agent_id.empty()) changes_.Publish(StoreChange::Binding(b.id, agent_id));
  return s;
}

Status PostgresStoreImpl::DeleteBinding(std::string_view binding_id, const AuditEvent* audit) {
  std::string agent_id;  // the deleted row's, for the change
  Status s = Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    agent_id.clear();
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("DELETE FROM bindings WHERE id = $1 RETURNING agent_id",
                                           PgParams().Text(binding_id)));
    if (r.rows() == 0) return NotFoundError("binding not found");
    agent_id = r.Text(0, 0);
    return conn.Run(
        kAnnounceChangeSql,
        PgParams().Text(ChangePayload(StoreChange::Binding(std::string(binding_id), agent_id))));
  });
  if (!agent_id.empty()) changes_.Publish(StoreChange::Binding(std::string(binding_id), agent_id));
  return s;
}

Status PostgresStoreImpl::InsertExecution(const ExecutionRecord& e, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO executions (id, agent_id, binding_id, binding_name, intent_type, mode,"
        " status, method, path, upstream_status, secret_version, duration_ms, request_bytes,"
        " response_bytes, redactions, error_message, created_at) VALUES ($1, $2, $3, $4, $5,"
        " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        PgParams()
            .Text(e.id)
            .Text(e.agent_id)
            .Text(e.binding_id)
            .Text(e.binding_name)
            .Text(e.intent_type)
            .Text(e.mode)
            .Text(e.status)
            .Text(e.method)
            .Text(e.path)
            .Int(e.upstream_status)
            .Int(e.secret_version)
            .Int(e.duration_ms)
            .Int(e.request_bytes)
            .Int(e.response_bytes)
            .Int(e.redactions)
            .Text(e.error_message)
            .Int(e.created_at));
    return Reword(std::move(s), StatusCode::kAlreadyExists, "an execution with this id exists");
  });
}

StatusOr<std::vector<ExecutionRecord>> PostgresStoreImpl::ListExecutions(std::string_view agent_id,
                                                                         size_t limit,
                                                                         size_t offset) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<ExecutionRecord>> {
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec(std::string(kExecutionColumnsSql) +
                      " WHERE agent_id = $1 ORDER BY created_at DESC, ord DESC"
                      " LIMIT $2 OFFSET $3",
                  PgParams()
                      .Text(agent_id)
                      .OptionalInt(limit == 0 ? std::nullopt
                                              : std::optional<int64_t>(static_cast<int64_t>(limit)))
                      .Int(static_cast<int64_t>(offset))));
    return ReadAll<ExecutionRecord>(r, ReadExecution);
  });
}

StatusOr<UseDecision> PostgresStoreImpl::CountUse(std::span<const UseCounter> counters) {
  for (const UseCounter& c : counters) {
    if (c.limit < 0 || c.amount < 1 || c.window_end <= c.window_start) {
      return Err(InvalidArgumentError(
          "store: a use counter needs a window, a limit >= 0 and an amount >= 1"));
    }
  }
  if (counters.empty()) return UseDecision{true, 0, 0};
  // The distinct counters in lock order: every call takes its row locks in this one order.
  std::vector<size_t> order(counters.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(counters[a].key, counters[a].window_start) <
           std::tie(counters[b].key, counters[b].window_start);
  });
  order.erase(std::unique(order.begin(), order.end(),
                          [&](size_t a, size_t b) {
                            return counters[a].key == counters[b].key &&
                                   counters[a].window_start == counters[b].window_start;
                          }),
              order.end());
  std::string values;
  std::string keys;
  PgParams rows;  // (key, window_start, window_end) of each, for the insert
  PgParams ids;   // (key, window_start) of each, for the lock and the update
  for (size_t n = 0; n < order.size(); ++n) {
    const UseCounter& c = counters[order[n]];
    rows.Text(c.key).Int(c.window_start).Int(c.window_end);
    ids.Text(c.key).Int(c.window_start);
    values +=
        fmt::format("{}(${}, ${}, ${}, 0)", n == 0 ? "" : ", ", 3 * n + 1, 3 * n + 2, 3 * n + 3);
    keys += fmt::format("{}(${}, ${})", n == 0 ? "" : ", ", 2 * n + 1, 2 * n + 2);
  }
  const std::string insert_sql =
      "INSERT INTO use_counters (key, window_start, window_end, count) VALUES " + values +
      " ON CONFLICT (key, window_start) DO NOTHING";
  const std::string lock_sql =
      "SELECT key, window_start, count FROM use_counters"
      " WHERE (key, window_start) IN (" +
      keys + ") ORDER BY key, window_start FOR UPDATE";
  const std::string update_sql =
      "UPDATE use_counters SET count = count + 1 WHERE (key, window_start) IN (" + keys + ")";
  const bool one_each =
      std::ranges::all_of(counters, [](const UseCounter& c) { return c.amount == 1; });
  const bool sweep = use_calls_.fetch_add(1, std::memory_order_relaxed) % kSweepEvery == 0;
  UseDecision decision;
  RETURN_IF_ERROR(RunPgTransaction(*pool_, [&](PgConnection& conn) -> Status {
    RETURN_IF_ERROR(conn.Run("SET LOCAL synchronous_commit = off"));
    RETURN_IF_ERROR(conn.Run(insert_sql, rows));
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(lock_sql, ids));
    std::map<std::pair<std::string, int64_t>, int64_t> counts;
    for (int row = 0; row < r.rows(); ++row) {
      counts[{r.Text(row, 0), r.Int(row, 1)}] = r.Int(row, 2);
    }
    decision = UseDecision{true, 0, 0};
    for (size_t i = 0; i < counters.size(); ++i) {
      const auto it = counts.find({counters[i].key, counters[i].window_start});
      if ((it == counts.end() ? 0 : it->second) > counters[i].limit - counters[i].amount) {
        decision = UseDecision{false, i, counters[i].window_end};
        break;
      }
    }
    if (decision.allowed && one_each) {
      RETURN_IF_ERROR(conn.Run(update_sql, ids));
    } else if (decision.allowed) {
      for (size_t i : order) {  // a lease: each counter by its own amount
        const UseCounter& c = counters[i];
        RETURN_IF_ERROR(conn.Run(
            "UPDATE use_counters SET count = count + $3 WHERE key = $1 AND window_start = $2",
            PgParams().Text(c.key).Int(c.window_start).Int(c.amount)));
      }
    }
    if (sweep) {
      // Every window holds the present, so a window that ended by the latest start has ended.
      UnixMicros now = counters[0].window_start;
      for (const UseCounter& c : counters) now = std::max(now, c.window_start);
      RETURN_IF_ERROR(
          conn.Run("DELETE FROM use_counters WHERE ctid IN (SELECT ctid FROM use_counters"
                   " WHERE window_end <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                   PgParams().Int(now).Int(kSweepLimit)));
    }
    return OkStatus();
  }));
  return decision;
}

}  // namespace coffer::postgres_internal
