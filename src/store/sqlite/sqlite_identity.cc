// SqliteStoreImpl's identity tables: users and their credentials, agents (whose credentials are
// minted, revoked and replaced with them), and the policies that grant principals access to a
// vault.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace coffer::sqlite_store_internal {

namespace {

// --- rows of the identity tables ----------------------------------------------------------------

constexpr std::string_view kUserColumnsSql = "SELECT id, name, is_admin, created_at FROM users";
constexpr std::string_view kCredentialColumnsSql =
    "SELECT public_id, kind, principal_kind, principal_id, name, secret_hmac, created_at,"
    " revoked_at, pepper_ids FROM credentials";
constexpr std::string_view kAgentColumnsSql =
    "SELECT id, name, description, owner_id, created_at, revoked_at, deactivated_at,"
    " last_used_at FROM agents";
constexpr std::string_view kPolicyColumnsSql =
    "SELECT id, vault_id, principal_kind, principal_id, path_glob, permissions, expires_at,"
    " created_at, created_by, effect, priority, window_start_hour, window_end_hour, window_days,"
    " window_timezone, ip_allowlist, updated_at FROM policies";

User ReadUser(const SqliteStatement& st) {
  return User{st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2) != 0, st.ColumnInt(3)};
}

StatusOr<Credential> ReadCredential(const SqliteStatement& st) {
  Credential c;
  c.public_id = st.ColumnText(0);
  c.kind = st.ColumnText(1);
  ASSIGN_OR_RETURN(c.principal_kind, ParsePrincipalKind(st.ColumnText(2), "credential"));
  c.principal_id = st.ColumnText(3);
  c.name = st.ColumnText(4);
  c.secret_hmac = st.ColumnBlob(5);
  c.created_at = st.ColumnInt(6);
  c.revoked_at = st.ColumnOptionalInt(7);
  c.pepper_ids = ParsePepperIds(st.ColumnText(8));
  return c;
}

Agent ReadAgent(const SqliteStatement& st) {
  Agent a;
  a.id = st.ColumnText(0);
  a.name = st.ColumnText(1);
  a.description = st.ColumnText(2);
  a.owner_id = st.ColumnText(3);
  a.created_at = st.ColumnInt(4);
  a.revoked_at = st.ColumnOptionalInt(5);
  a.deactivated_at = st.ColumnOptionalInt(6);
  a.last_used_at = st.ColumnOptionalInt(7);
  return a;
}

StatusOr<Policy> ReadPolicy(const SqliteStatement& st) {
  Policy p;
  p.id = st.ColumnText(0);
  p.vault_id = st.ColumnText(1);
  ASSIGN_OR_RETURN(p.principal_kind, ParsePrincipalKind(st.ColumnText(2), "policy"));
  p.principal_id = st.ColumnText(3);
  p.path_glob = st.ColumnText(4);
  p.permissions = static_cast<uint8_t>(st.ColumnInt(5));
  p.expires_at = st.ColumnOptionalInt(6);
  p.created_at = st.ColumnInt(7);
  p.created_by = st.ColumnText(8);
  p.priority = st.ColumnInt(10);
  p.updated_at = st.ColumnOptionalInt(16);
  RETURN_IF_ERROR(SetPolicyColumns(p, PolicyColumns{.effect = st.ColumnText(9),
                                                    .window_start_hour = st.ColumnOptionalInt(11),
                                                    .window_end_hour = st.ColumnOptionalInt(12),
                                                    .window_days = st.ColumnOptionalInt(13),
                                                    .window_timezone = st.ColumnText(14),
                                                    .ip_allowlist = st.ColumnText(15)}));
  return p;
}

// Binds effect, priority and the conditions' columns (PolicyColumns) to parameters `first` to
// first + 6, in that order; the timezone is bound as "" for no window (the SQL makes that NULL).
void BindPolicyColumns(SqliteStatement& st, int first, const Policy& p) {
  const PolicyColumns c = PolicyColumnsOf(p);
  st.BindText(first, c.effect);
  st.BindInt(first + 1, p.priority);
  st.BindOptionalInt(first + 2, c.window_start_hour);
  st.BindOptionalInt(first + 3, c.window_end_hour);
  st.BindOptionalInt(first + 4, c.window_days);
  st.BindText(first + 5, c.window_timezone);
  st.BindText(first + 6, c.ip_allowlist);
}

// The rows of `columns_sql` (credentials or policies) that name principal (`kind`, `id`), in
// creation order (rowid breaks ties in insertion order).
template <typename T>
StatusOr<std::vector<T>> ListForPrincipal(SqliteConnection& db, std::string_view columns_sql,
                                          PrincipalKind kind, std::string_view principal_id,
                                          StatusOr<T> (*read)(const SqliteStatement&)) {
  ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare(std::string(columns_sql) +
                                                  " WHERE principal_kind = ?1 AND principal_id = ?2"
                                                  " ORDER BY created_at, rowid"));
  st.BindText(1, PrincipalKindName(kind));
  st.BindText(2, principal_id);
  return ReadAll<T>(st, read);
}

// A row when credential ?1 is an unrevoked API key of an admin and no other admin API key is
// unrevoked.
constexpr std::string_view kIsLastAdminKeySql =
    "SELECT 1 FROM credentials c JOIN users u ON u.id = c.principal_id"
    " WHERE c.public_id = ?1 AND c.principal_kind = 'user' AND c.kind = 'key'"
    " AND c.revoked_at IS NULL AND u.is_admin = 1"
    " AND NOT EXISTS (SELECT 1 FROM credentials o JOIN users a ON a.id = o.principal_id"
    " WHERE o.public_id <> c.public_id AND o.principal_kind = 'user' AND o.kind = 'key'"
    " AND o.revoked_at IS NULL AND a.is_admin = 1)";

}  // namespace

Status InsertCredentialRow(SqliteConnection& db, const Credential& c) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("INSERT INTO credentials (public_id, kind, principal_kind,"
                              " principal_id, name, secret_hmac, created_at, revoked_at,"
                              " pepper_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, " +
                              PepperIdsOrActiveSql("?9") + ")"));
  st.BindText(1, c.public_id);
  st.BindText(2, c.kind);
  st.BindText(3, PrincipalKindName(c.principal_kind));
  st.BindText(4, c.principal_id);
  st.BindText(5, c.name);
  st.BindBlob(6, c.secret_hmac);
  st.BindInt(7, c.created_at);
  st.BindOptionalInt(8, c.revoked_at);
  st.BindText(9, FormatPepperIds(c.pepper_ids));
  return Reword(st.Run(), StatusCode::kAlreadyExists, "the credential already exists");
}

namespace {

// Revokes, at `at`, every credential of the agent that is not revoked yet.
Status RevokeAgentCredentialRows(SqliteConnection& db, std::string_view agent_id, UnixMicros at) {
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db.Prepare("UPDATE credentials SET revoked_at = ?2"
                              " WHERE principal_kind = 'agent' AND principal_id = ?1"
                              " AND revoked_at IS NULL"));
  st.BindText(1, agent_id);
  st.BindInt(2, at);
  return st.Run();
}

}  // namespace

// --- users and credentials -------------------------------------------------------------------

Status SqliteStoreImpl::InsertUser(const User& user, const AuditEvent* audit) {
  return Write(audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool taken,
                     Exists(db, "SELECT 1 FROM users WHERE name = ?1", user.name));
    if (taken) {
      return AlreadyExistsError("a user named '" + user.name + "' already exists");
    }
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("INSERT INTO users (id, name, is_admin, created_at)"
                                " VALUES (?1, ?2, ?3, ?4)"));
    st.BindText(1, user.id);
    st.BindText(2, user.name);
    st.BindInt(3, user.is_admin ? 1 : 0);
    st.BindInt(4, user.created_at);
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a user with this id already exists");
  });
}

StatusOr<std::vector<User>> SqliteStoreImpl::ListUsers() {
  auto db = readers_->Acquire();
  // rowid breaks ties in insertion order.
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kUserColumnsSql) + " ORDER BY created_at, rowid"));
  return ReadAll<User>(st, ReadUser);
}

StatusOr<User> SqliteStoreImpl::GetUser(std::string_view id) {
  auto db = readers_->Acquire();
  return GetById(*db, kUserColumnsSql, id, "user not found", ReadUser);
}

Status SqliteStoreImpl::InsertCredential(const Credential& c, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Credential(c.public_id);
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    return InsertCredentialRow(db, c);
  });
}

StatusOr<Credential> SqliteStoreImpl::GetCredential(std::string_view public_id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kCredentialColumnsSql) + " WHERE public_id = ?1"));
  st.BindText(1, public_id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("credential not found"));
  }
  return ReadCredential(st);
}

StatusOr<std::vector<Credential>> SqliteStoreImpl::ListCredentials(PrincipalKind kind,
                                                                   std::string_view principal_id) {
  auto db = readers_->Acquire();
  return ListForPrincipal(*db, kCredentialColumnsSql, kind, principal_id, ReadCredential);
}

Status SqliteStoreImpl::RevokeCredential(std::string_view public_id, UnixMicros at,
                                         const AuditEvent* audit) {
  const StoreChange change = StoreChange::Credential(std::string(public_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    // The writer runs one operation at a time, so nothing revokes an admin key between this
    // check and the UPDATE.
    ASSIGN_OR_RETURN(const bool last_admin_key, Exists(db, kIsLastAdminKeySql, public_id));
    if (last_admin_key) {
      return FailedPreconditionError(std::string(kLastAdminKey));
    }
    // The earlier time wins: a repeated revocation keeps the first one's, and revoking a key in
    // its grace window (revoked_at in the future) ends the window now.
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("UPDATE credentials SET revoked_at = MIN(COALESCE(revoked_at, ?2), ?2),"
                   " grace_pending = CASE WHEN revoked_at <= ?2 THEN grace_pending ELSE 0 END"
                   " WHERE public_id = ?1"));
    st.BindText(1, public_id);
    st.BindInt(2, at);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError("credential not found");
    }
    return OkStatus();
  });
}

// --- agents ----------------------------------------------------------------------------------

Status SqliteStoreImpl::InsertAgent(const Agent& agent, const std::vector<Credential>& credentials,
                                    const AuditEvent* audit) {
  RETURN_IF_ERROR(CheckAgentCredentials(agent.id, credentials));
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, agent.id);
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool taken,
                     Exists(db, "SELECT 1 FROM agents WHERE owner_id = ?1 AND name = ?2",
                            agent.owner_id, agent.name));
    if (taken) {
      return AlreadyExistsError("an agent named '" + agent.name + "' already exists");
    }
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("INSERT INTO agents (id, name, description, owner_id,"
                                  " created_at, revoked_at, deactivated_at)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
      st.BindText(1, agent.id);
      st.BindText(2, agent.name);
      st.BindText(3, agent.description);
      st.BindText(4, agent.owner_id);
      st.BindInt(5, agent.created_at);
      st.BindOptionalInt(6, agent.revoked_at);
      st.BindOptionalInt(7, agent.deactivated_at);
      RETURN_IF_ERROR(
          Reword(st.Run(), StatusCode::kAlreadyExists, "an agent with this id already exists"));
    }
    for (const Credential& c : credentials) {
      RETURN_IF_ERROR(InsertCredentialRow(db, c));
    }
    return OkStatus();
  });
}

StatusOr<Agent> SqliteStoreImpl::GetAgent(std::string_view agent_id) {
  auto db = readers_->Acquire();
  return GetById(*db, kAgentColumnsSql, agent_id, "agent not found", ReadAgent);
}

StatusOr<std::vector<Agent>> SqliteStoreImpl::ListAgents(std::optional<std::string_view> owner_id) {
  auto db = readers_->Acquire();
  return ListByOwner(*db, kAgentColumnsSql, owner_id, ReadAgent);
}

Status SqliteStoreImpl::UpdateAgent(std::string_view agent_id, const AgentUpdate& update,
                                    UnixMicros at, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    std::string owner_id;
    {
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("SELECT revoked_at IS NOT NULL, owner_id"
                                                      " FROM agents WHERE id = ?1"));
      st.BindText(1, agent_id);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) {
        return NotFoundError("agent not found");
      }
      if (st.ColumnInt(0) != 0) {
        return FailedPreconditionError("the agent is revoked");
      }
      owner_id = st.ColumnText(1);
    }
    // The writer runs one operation at a time, so nothing can change between the checks and
    // the updates.
    if (update.name.has_value()) {
      {
        ASSIGN_OR_RETURN(SqliteStatement taken,
                         db.Prepare("SELECT 1 FROM agents WHERE owner_id = ?1 AND name = ?2"
                                    " AND id <> ?3"));
        taken.BindText(1, owner_id);
        taken.BindText(2, *update.name);
        taken.BindText(3, agent_id);
        ASSIGN_OR_RETURN(const bool is_taken, taken.Step());
        if (is_taken) {
          return AlreadyExistsError("an agent named '" + *update.name + "' already exists");
        }
      }
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("UPDATE agents SET name = ?2 WHERE id = ?1"));
      st.BindText(1, agent_id);
      st.BindText(2, *update.name);
      RETURN_IF_ERROR(st.Run());
    }
    if (update.description.has_value()) {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE agents SET description = ?2 WHERE id = ?1"));
      st.BindText(1, agent_id);
      st.BindText(2, *update.description);
      RETURN_IF_ERROR(st.Run());
    }
    if (update.is_active.has_value()) {
      ASSIGN_OR_RETURN(
          SqliteStatement st,
          db.Prepare(*update.is_active
                         ? "UPDATE agents SET deactivated_at = NULL WHERE id = ?1"
                         : "UPDATE agents SET deactivated_at = COALESCE(deactivated_at, ?2)"
                           " WHERE id = ?1"));
      st.BindText(1, agent_id);
      if (!*update.is_active) {
        st.BindInt(2, at);
      }
      RETURN_IF_ERROR(st.Run());
    }
    return OkStatus();
  });
}

Status SqliteStoreImpl::RevokeAgent(std::string_view agent_id, UnixMicros at,
                                    const AuditEvent* audit) {
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("UPDATE agents SET revoked_at = COALESCE(revoked_at, ?2)"
                                  " WHERE id = ?1"));
      st.BindText(1, agent_id);
      st.BindInt(2, at);
      RETURN_IF_ERROR(st.Run());
      if (db.Changes() == 0) {
        return NotFoundError("agent not found");
      }
    }
    {
      // A revoked agent is gone for good: so are its gateway bindings.
      ASSIGN_OR_RETURN(SqliteStatement st, db.Prepare("DELETE FROM bindings WHERE agent_id = ?1"));
      st.BindText(1, agent_id);
      RETURN_IF_ERROR(st.Run());
    }
    return RevokeAgentCredentialRows(db, agent_id, at);
  });
}

Status SqliteStoreImpl::ReplaceAgentCredentials(std::string_view agent_id,
                                                const std::vector<std::string>& expected_active,
                                                const std::vector<Credential>& fresh, UnixMicros at,
                                                const AuditEvent* audit) {
  RETURN_IF_ERROR(CheckAgentCredentials(agent_id, fresh));
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    {
      ASSIGN_OR_RETURN(SqliteStatement st,
                       db.Prepare("SELECT revoked_at IS NOT NULL FROM agents WHERE id = ?1"));
      st.BindText(1, agent_id);
      ASSIGN_OR_RETURN(const bool row, st.Step());
      if (!row) {
        return NotFoundError("agent not found");
      }
      if (st.ColumnInt(0) != 0) {
        return FailedPreconditionError("the agent is revoked");
      }
    }
    // The writer runs one operation at a time, so nothing can change between this check and
    // the swap below.
    for (const std::string& public_id : expected_active) {
      ASSIGN_OR_RETURN(const bool active,
                       Exists(db,
                              "SELECT 1 FROM credentials WHERE public_id = ?1"
                              " AND principal_kind = 'agent' AND principal_id = ?2"
                              " AND revoked_at IS NULL",
                              public_id, agent_id));
      if (!active) {
        return AbortedError("the agent's credentials changed since they were read");
      }
    }
    RETURN_IF_ERROR(RevokeAgentCredentialRows(db, agent_id, at));
    for (const Credential& c : fresh) {
      RETURN_IF_ERROR(InsertCredentialRow(db, c));
    }
    return OkStatus();
  });
}

// --- policies --------------------------------------------------------------------------------

Status SqliteStoreImpl::InsertPolicy(const Policy& p, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Policies(p.vault_id);
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(const bool vault_exists,
                     Exists(db, "SELECT 1 FROM vaults WHERE id = ?1", p.vault_id));
    if (!vault_exists) {
      return NotFoundError("vault not found");
    }
    ASSIGN_OR_RETURN(
        SqliteStatement st,
        db.Prepare("INSERT INTO policies (id, vault_id, principal_kind, principal_id, path_glob,"
                   " permissions, expires_at, created_at, created_by, effect, priority,"
                   " window_start_hour, window_end_hour, window_days, window_timezone,"
                   " ip_allowlist, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                   " ?11, ?12, ?13, ?14, NULLIF(?15, ''), ?16, ?17)"));
    st.BindText(1, p.id);
    st.BindText(2, p.vault_id);
    st.BindText(3, PrincipalKindName(p.principal_kind));
    st.BindText(4, p.principal_id);
    st.BindText(5, p.path_glob);
    st.BindInt(6, p.permissions);
    st.BindOptionalInt(7, p.expires_at);
    st.BindInt(8, p.created_at);
    st.BindText(9, p.created_by);
    BindPolicyColumns(st, 10, p);
    st.BindOptionalInt(17, p.updated_at);
    return Reword(st.Run(), StatusCode::kAlreadyExists, "a policy with this id already exists");
  });
}

StatusOr<Policy> SqliteStoreImpl::GetPolicy(std::string_view vault_id, std::string_view policy_id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st, db->Prepare(std::string(kPolicyColumnsSql) +
                                                   " WHERE id = ?2 AND vault_id = ?1"));
  st.BindText(1, vault_id);
  st.BindText(2, policy_id);
  ASSIGN_OR_RETURN(const bool row, st.Step());
  if (!row) {
    return Err(NotFoundError("policy not found"));
  }
  return ReadPolicy(st);
}

StatusOr<std::vector<Policy>> SqliteStoreImpl::ListPolicies(std::string_view vault_id) {
  auto db = readers_->Acquire();
  ASSIGN_OR_RETURN(SqliteStatement st,
                   db->Prepare(std::string(kPolicyColumnsSql) +
                               " WHERE vault_id = ?1 ORDER BY created_at, rowid"));
  st.BindText(1, vault_id);
  return ReadAll<Policy>(st, ReadPolicy);
}

StatusOr<std::vector<Policy>> SqliteStoreImpl::ListPoliciesForPrincipal(
    PrincipalKind kind, std::string_view principal_id) {
  auto db = readers_->Acquire();
  return ListForPrincipal(*db, kPolicyColumnsSql, kind, principal_id, ReadPolicy);
}

Status SqliteStoreImpl::UpdatePolicy(const Policy& p, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Policies(p.vault_id);
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("UPDATE policies SET permissions = ?3, expires_at = ?4,"
                                " effect = ?5, priority = ?6, window_start_hour = ?7,"
                                " window_end_hour = ?8, window_days = ?9,"
                                " window_timezone = NULLIF(?10, ''), ip_allowlist = ?11,"
                                " updated_at = ?12 WHERE id = ?2 AND vault_id = ?1"));
    st.BindText(1, p.vault_id);
    st.BindText(2, p.id);
    st.BindInt(3, p.permissions);
    st.BindOptionalInt(4, p.expires_at);
    BindPolicyColumns(st, 5, p);
    st.BindOptionalInt(12, p.updated_at);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError("policy not found");
    }
    return OkStatus();
  });
}

Status SqliteStoreImpl::DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                                     const AuditEvent* audit) {
  const StoreChange change = StoreChange::Policies(std::string(vault_id));
  return WriteChange(change, audit, [&](SqliteConnection& db, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement st,
                     db.Prepare("DELETE FROM policies WHERE id = ?2 AND vault_id = ?1"));
    st.BindText(1, vault_id);
    st.BindText(2, policy_id);
    RETURN_IF_ERROR(st.Run());
    if (db.Changes() == 0) {
      return NotFoundError("policy not found");
    }
    return OkStatus();
  });
}

}  // namespace coffer::sqlite_store_internal
