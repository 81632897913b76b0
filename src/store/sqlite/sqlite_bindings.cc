// SqliteStoreImpl's gateway rows: agents' bindings, the record of each call made through one,
// and the fixed-window use counters of the gateway's rate limits and budgets. Every write runs
// on the single writer, so a CountUse's check and increments of all its counters are one step
// no other write interleaves with.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

constexpr std::string_view kBindingColumnsSql =
    "SELECT id, agent_id, name, binding_type, config_json, guardrails_json, vault_id, path,"
    " is_active, created_by, created_at, updated_at FROM bindings";

Binding ReadBinding(const SqliteStatement& st) {
  Binding b;
  b.id = st.ColumnText(0);
  b.agent_id = st.ColumnText(1);
  b.name = st.ColumnText(2);
  b.binding_type = st.ColumnText(3);
  b.config_json = st.ColumnText(4);
  b.guardrails_json = st.ColumnText(5);
  b.vault_id = st.ColumnText(6);
  b.path = st.ColumnText(7);
  b.is_active = st.ColumnInt(8) != 0;
  b.created_by = st.ColumnText(9);
  b.created_at = st.ColumnInt(10);
  b.updated_at = st.ColumnInt(11);
  return b;
}

constexpr std::string_view kExecutionColumnsSql =
    "SELECT id, agent_id, binding_id, binding_name, intent_type, mode, status, method, path,"
    " upstream_status, secret_version, duration_ms, request_bytes, response_bytes, redactions,"
    " error_message, created_at FROM executions";

ExecutionRecord ReadExecution(const SqliteStatement& st) {
  ExecutionRecord e;
  e.id = st.ColumnText(0);
  e.agent_id = st.ColumnText(1);
  e.binding_id = st.ColumnText(2);
  e.binding_name = st.ColumnText(3);
  e.intent_type = st.ColumnText(4);
  e.mode = st.ColumnText(5);
  e.status = st.ColumnText(6);
  e.method = st.ColumnText(7);
  e.path = st.ColumnText(8);
  e.upstream_status = static_cast<int>(st.ColumnInt(9));
  e.secret_version = st.ColumnInt(10);
  e.duration_ms = st.ColumnInt(11);
  e.request_bytes = st.ColumnInt(12);
  e.response_bytes = st.ColumnInt(13);
  e.redactions = st.ColumnInt(14);
  e.error_message = st.ColumnText(15);
  e.created_at = st.ColumnInt(16);
  return e;
}

std::string NameTaken(std::string_view name) {
  return "the agent already has a binding named '" + std::string(name) + "'";
}

// How many CountUse calls pass between two sweeps of ended windows, and the most one deletes.
constexpr uint64_t kSweepEvery = 64;
constexpr int64_t kSweepLimit = 1000;

}  // namespace

Status SqliteStoreImpl::InsertBinding(const Binding& b, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Binding(b.id, b.agent_id);
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool agent,
                     Exists(db, "SELECT 1 FROM agents WHERE id = ?1", b.agent_id));
    if (!agent) return NotFoundError("agent not found");
    ASSIGN_OR_RETURN(
        const bool taken,
        Exists(db, "SELECT 1 FROM bindings WHERE agent_id = ?1 AND name = ?2", b.agent_id, b.name));
    if (taken) return AlreadyExistsError(NameTaken(b.name));
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO bindings (id, agent_id, name, binding_type,"
                                " config_json, guardrails_json, vault_id, path, is_active,"
                                " created_by, created_at, updated_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
    st.BindText(1, b.id);
    st.BindText(2, b.agent_id);
    st.BindText(3, b.name);
    st.BindText(4, b.binding_type);
    st.BindText(5, b.config_json);
    st.BindText(6, b.guardrails_json);
    st.BindText(7, b.vault_id);
    st.BindText(8, b.path);
    st.BindInt(9, b.is_active ? 1 : 0);
    st.BindText(10, b.created_by);
    st.BindInt(11, b.created_at);
    st.BindInt(12, b.updated_at);
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a binding with this id exists");
  });
}

StatusOr<Binding> SqliteStoreImpl::GetBinding(std::string_view binding_id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kBindingColumnsSql) + " WHERE id = ?1"));
  st.BindText(1, binding_id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) return Err(NotFoundError("binding not found"));
  return ReadBinding(st);
}

StatusOr<Binding> SqliteStoreImpl::FindBinding(std::string_view agent_id,
                                               std::string_view id_or_name) {
  auto db = readers_->Acquire();
  // An id match wins over a name match (a binding may be named like another's id). Two lookups,
  // each on its own index (the primary key, then (agent_id, name)): an OR of both would scan
  // every binding of the agent.
  static const std::string by_id =
      std::string(kBindingColumnsSql) + " WHERE id = ?2 AND agent_id = ?1";
  static const std::string by_name =
      std::string(kBindingColumnsSql) + " WHERE agent_id = ?1 AND name = ?2";
  for (const std::string* sql : {&by_id, &by_name}) {
    ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(*sql));
    st.BindText(1, agent_id);
    st.BindText(2, id_or_name);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (row) return ReadBinding(st);
  }
  return Err(NotFoundError("binding not found"));
}

StatusOr<std::vector<Binding>> SqliteStoreImpl::ListBindings(std::string_view agent_id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(std::string(kBindingColumnsSql) +
                                                   " WHERE agent_id = ?1 ORDER BY name"));
  st.BindText(1, agent_id);
  return ReadAll<Binding>(st, ReadBinding);
}

Status SqliteStoreImpl::UpdateBinding(const Binding& b, const AuditEvent* audit) {
  std::string agent_id;  // the stored row's, for the change
  Status s = Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT agent_id FROM bindings WHERE id = ?1"));
      st.BindText(1, b.id);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) return NotFoundError("binding not found");
      agent_id = st.ColumnText(0);
    }
    ASSIGN_OR_RETURN(const bool taken,
                     Exists(db,
                            "SELECT 1 FROM bindings WHERE agent_id = (SELECT agent_id FROM"
                            " bindings WHERE id = ?1) AND name = ?2 AND id <> ?1",
                            b.id, b.name));
    if (taken) return AlreadyExistsError(NameTaken(b.name));
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE bindings SET name = ?2, binding_type = ?3,"
                                " config_json = ?4, guardrails_json = ?5, vault_id = ?6,"
                                " path = ?7, is_active = ?8, updated_at = ?9 WHERE id = ?1"));
    st.BindText(1, b.id);
    st.BindText(2, b.name);
    st.BindText(3, b.binding_type);
    st.BindText(4, b.config_json);
    st.BindText(5, b.guardrails_json);
    st.BindText(6, b.vault_id);
    st.BindText(7, b.path);
    st.BindInt(8, b.is_active ? 1 : 0);
    st.BindInt(9, b.updated_at);
    return st.Run();
  });
  if (!agent_id.empty()) changes_.Publish(StoreChange::Binding(b.id, agent_id));
  return s;
}

Status SqliteStoreImpl::DeleteBinding(std::string_view binding_id, const AuditEvent* audit) {
  std::string agent_id;  // the deleted row's, for the change
  Status s = Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("DELETE FROM bindings WHERE id = ?1 RETURNING agent_id"));
    st.BindText(1, binding_id);
    ASSIGN_OR_RETURN(const bool row, st.Step());
    if (!row) return NotFoundError("binding not found");
    agent_id = st.ColumnText(0);
    ASSIGN_OR_RETURN(const bool more, st.Step());  // finishes the statement
    (void)more;
    return OkStatus();
  });
  if (!agent_id.empty()) changes_.Publish(StoreChange::Binding(std::string(binding_id), agent_id));
  return s;
}

namespace {

Status InsertExecutionRow(SqliteConnection& db, const ExecutionRecord& e) {
  ASSIGN_OR_RETURN(
      SqliteStatement st,
      db.Prepare("INSERT INTO executions (id, agent_id, binding_id, binding_name, intent_type,"
                 " mode, status, method, path, upstream_status, secret_version, duration_ms,"
                 " request_bytes, response_bytes, redactions, error_message, created_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                 " ?16, ?17)"));
  st.BindText(1, e.id);
  st.BindText(2, e.agent_id);
  st.BindText(3, e.binding_id);
  st.BindText(4, e.binding_name);
  st.BindText(5, e.intent_type);
  st.BindText(6, e.mode);
  st.BindText(7, e.status);
  st.BindText(8, e.method);
  st.BindText(9, e.path);
  st.BindInt(10, e.upstream_status);
  st.BindInt(11, e.secret_version);
  st.BindInt(12, e.duration_ms);
  st.BindInt(13, e.request_bytes);
  st.BindInt(14, e.response_bytes);
  st.BindInt(15, e.redactions);
  st.BindText(16, e.error_message);
  st.BindInt(17, e.created_at);
  return Reword(st.Run(), StatusCode::kAlreadyExists, "an execution with this id exists");
}

}  // namespace

Status SqliteStoreImpl::InsertExecution(const ExecutionRecord& e, const AuditEvent* audit) {
  // A use changes nothing else stored: written with AppendAudit's durability.
  return Write(
      audit, [&](SqliteConnection& db, AuditEvent*) { return InsertExecutionRow(db, e); }, nullptr,
      Durability::kWritten);
}

void SqliteStoreImpl::InsertExecutionAsync(std::shared_ptr<const ExecutionRecord> e,
                                           std::shared_ptr<const AuditEvent> audit,
                                           std::function<void(Status)> done) {
  writer_->RunAsync(
      [this, e = std::move(e), audit = std::move(audit)](SqliteConnection& db) {
        return WriteInOp(db, audit.get(), [&e](SqliteConnection& conn, AuditEvent*) {
          return InsertExecutionRow(conn, *e);
        });
      },
      Durability::kWritten, std::move(done));
}

StatusOr<std::vector<ExecutionRecord>> SqliteStoreImpl::ListExecutions(std::string_view agent_id,
                                                                       size_t limit,
                                                                       size_t offset) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kExecutionColumnsSql) +
                               " WHERE agent_id = ?1 ORDER BY created_at DESC, rowid DESC"
                               " LIMIT ?2 OFFSET ?3"));
  st.BindText(1, agent_id);
  st.BindInt(2, limit == 0 ? -1 : static_cast<int64_t>(limit));
  st.BindInt(3, static_cast<int64_t>(offset));
  return ReadAll<ExecutionRecord>(st, ReadExecution);
}

StatusOr<UseDecision> SqliteStoreImpl::CountUse(std::span<const UseCounter> counters) {
  for (const UseCounter& c : counters) {
    if (c.limit < 0 || c.amount < 1 || c.window_end <= c.window_start) {
      return Err(InvalidArgumentError(
          "store: a use counter needs a window, a limit >= 0 and an amount >= 1"));
    }
  }
  if (counters.empty()) return UseDecision{true, 0, 0};
  const bool sweep = use_calls_.fetch_add(1, std::memory_order_relaxed) % kSweepEvery == 0;
  UseDecision decision;
  // Counted, not fsynced: a crash may forget the last counts, never a binding or an audit event.
  RETURN_IF_ERROR(Write(
      nullptr,
      [&](SqliteConnection& db, AuditEvent*) -> Status {
        decision = UseDecision{true, 0, 0};
        for (size_t i = 0; i < counters.size(); ++i) {
          ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT count FROM use_counters"
                                                          " WHERE key = ?1 AND window_start = ?2"));
          st.BindText(1, counters[i].key);
          st.BindInt(2, counters[i].window_start);
          ASSIGN_OR_RETURN(const bool row, st.Step());
          const int64_t count = row ? st.ColumnInt(0) : 0;
          if (count > counters[i].limit - counters[i].amount) {
            decision = UseDecision{false, i, counters[i].window_end};
            break;
          }
        }
        if (decision.allowed) {
          for (const UseCounter& c : counters) {
            ASSIGN_OR_RETURN(SqliteStatement st,
                             db.Prepare("INSERT INTO use_counters (key, window_start, window_end,"
                                        " count) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key,"
                                        " window_start) DO UPDATE SET count = count + ?4"));
            st.BindText(1, c.key);
            st.BindInt(2, c.window_start);
            st.BindInt(3, c.window_end);
            st.BindInt(4, c.amount);
            RETURN_IF_ERROR(st.Run());
          }
        }
        if (sweep) {
          // Every window holds the present, so a window that ended by the latest start has ended.
          UnixMicros now = counters[0].window_start;
          for (const UseCounter& c : counters) now = std::max(now, c.window_start);
          ASSIGN_OR_RETURN(SqliteStatement st,
                           db.Prepare("DELETE FROM use_counters WHERE rowid IN (SELECT rowid"
                                      " FROM use_counters WHERE window_end <= ?1 LIMIT ?2)"));
          st.BindInt(1, now);
          st.BindInt(2, kSweepLimit);
          RETURN_IF_ERROR(st.Run());
        }
        return OkStatus();
      },
      nullptr, Durability::kWritten));
  return decision;
}

}  // namespace coffer::sqlite_store_internal
