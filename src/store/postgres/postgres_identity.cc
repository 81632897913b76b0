// PostgresStoreImpl's principals and what they may do: users, credentials (with the guard on
// the last admin API key), agents with their credential rotation, and policies. The rules that
// must hold across servers rest on row locks taken in the write transaction.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/postgres_store_impl.h"

namespace coffer::postgres_internal {

namespace {

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

// Appends effect, priority and the conditions' columns (PolicyColumns), in that order; the
// timezone goes as "" for no window (the SQL makes that NULL).
PgParams& AddPolicyColumns(PgParams& params, const Policy& p) {
  const PolicyColumns c = PolicyColumnsOf(p);
  return params.Text(c.effect)
      .Int(p.priority)
      .OptionalInt(c.window_start_hour)
      .OptionalInt(c.window_end_hour)
      .OptionalInt(c.window_days)
      .Text(c.window_timezone)
      .Text(c.ip_allowlist);
}

}  // namespace

Status InsertCredentialRow(PgConnection& conn, const Credential& c) {
  return Reword(conn.Run("INSERT INTO credentials (public_id, kind, principal_kind, principal_id,"
                         " name, secret_hmac, created_at, revoked_at, pepper_ids)"
                         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, " +
                             PepperIdsOrActiveSql("$9") + ")",
                         PgParams()
                             .Text(c.public_id)
                             .Text(c.kind)
                             .Text(PrincipalKindName(c.principal_kind))
                             .Text(c.principal_id)
                             .Text(c.name)
                             .Bytes(c.secret_hmac)
                             .Int(c.created_at)
                             .OptionalInt(c.revoked_at)
                             .Text(FormatPepperIds(c.pepper_ids))),
                StatusCode::kAlreadyExists, "the credential already exists");
}

namespace {

Status RevokeAgentCredentialRows(PgConnection& conn, std::string_view agent_id, UnixMicros at) {
  return conn.Run(
      "UPDATE credentials SET revoked_at = $2"
      " WHERE principal_kind = 'agent' AND principal_id = $1 AND revoked_at IS NULL",
      PgParams().Text(agent_id).Int(at));
}

}  // namespace

// --- users and credentials ---------------------------------------------------------------------

Status PostgresStoreImpl::InsertUser(const User& user, const AuditEvent* audit) {
  return Write(audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO users (id, name, is_admin, created_at)"
        " VALUES ($1, $2, $3, $4)",
        PgParams().Text(user.id).Text(user.name).Bool(user.is_admin).Int(user.created_at));
    return RewordDuplicate(std::move(s), conn, {"users_name_key"},
                           "a user named '" + user.name + "' already exists",
                           "a user with this id already exists");
  });
}

StatusOr<std::vector<User>> PostgresStoreImpl::ListUsers() {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<User>> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(kUserColumnsSql) + " ORDER BY created_at, ord"));
    return ReadAll<User>(r, ReadUser);
  });
}

StatusOr<User> PostgresStoreImpl::GetUser(std::string_view id) {
  return GetById(kUserColumnsSql, id, "user not found", ReadUser);
}

Status PostgresStoreImpl::InsertCredential(const Credential& c, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Credential(c.public_id);
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    return InsertCredentialRow(conn, c);
  });
}

StatusOr<Credential> PostgresStoreImpl::GetCredential(std::string_view public_id) {
  return Read([&](PgConnection& conn) -> StatusOr<Credential> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(kCredentialColumnsSql) + " WHERE public_id = $1",
                               PgParams().Text(public_id)));
    if (r.rows() == 0) {
      return Err(NotFoundError("credential not found"));
    }
    return ReadCredential(r, 0);
  });
}

StatusOr<std::vector<Credential>> PostgresStoreImpl::ListCredentials(
    PrincipalKind kind, std::string_view principal_id) {
  return ListByPrincipal(kCredentialColumnsSql, kind, principal_id, ReadCredential);
}

Status PostgresStoreImpl::RevokeCredential(std::string_view public_id, UnixMicros at,
                                           const AuditEvent* audit) {
  const StoreChange change = StoreChange::Credential(std::string(public_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // Every revocation of an admin's key locks the admin rows first, so revocations on any
    // server run one after another, and (in READ COMMITTED) the check below sees every
    // revocation committed before the lock was granted.
    ASSIGN_OR_RETURN(PgResult target,
                     conn.Exec("SELECT 1 FROM credentials c JOIN users u ON u.id = c.principal_id"
                               " WHERE c.public_id = $1 AND c.principal_kind = 'user'"
                               " AND c.kind = 'key' AND u.is_admin",
                               PgParams().Text(public_id)));
    if (target.rows() > 0) {
      RETURN_IF_ERROR(conn.Run("SELECT 1 FROM users WHERE is_admin ORDER BY id FOR UPDATE"));
      ASSIGN_OR_RETURN(
          PgResult last,
          conn.Exec("SELECT 1 FROM credentials c WHERE c.public_id = $1 AND c.revoked_at IS NULL"
                    " AND NOT EXISTS (SELECT 1 FROM credentials o JOIN users a"
                    " ON a.id = o.principal_id WHERE o.public_id <> c.public_id"
                    " AND o.principal_kind = 'user' AND o.kind = 'key'"
                    " AND o.revoked_at IS NULL AND a.is_admin)",
                    PgParams().Text(public_id)));
      if (last.rows() > 0) {
        return FailedPreconditionError(std::string(kLastAdminKey));
      }
    }
    // The earlier time wins: a repeated revocation keeps the first one's, and revoking a key in
    // its grace window (revoked_at in the future) ends the window now.
    ASSIGN_OR_RETURN(
        PgResult r, conn.Exec("UPDATE credentials SET revoked_at = LEAST(revoked_at, $2),"
                              " grace_pending = grace_pending AND COALESCE(revoked_at <= $2, false)"
                              " WHERE public_id = $1",
                              PgParams().Text(public_id).Int(at)));
    if (r.affected() == 0) {
      return NotFoundError("credential not found");
    }
    return OkStatus();
  });
}

// --- agents ------------------------------------------------------------------------------------

Status PostgresStoreImpl::InsertAgent(const Agent& agent,
                                      const std::vector<Credential>& credentials,
                                      const AuditEvent* audit) {
  RETURN_IF_ERROR(CheckAgentCredentials(agent.id, credentials));
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, agent.id);
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    Status s = conn.Run(
        "INSERT INTO agents (id, name, description, owner_id, created_at,"
        " revoked_at, deactivated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        PgParams()
            .Text(agent.id)
            .Text(agent.name)
            .Text(agent.description)
            .Text(agent.owner_id)
            .Int(agent.created_at)
            .OptionalInt(agent.revoked_at)
            .OptionalInt(agent.deactivated_at));
    RETURN_IF_ERROR(RewordDuplicate(std::move(s), conn, {"agents_owner_name_key"},
                                    "an agent named '" + agent.name + "' already exists",
                                    "an agent with this id already exists"));
    for (const Credential& c : credentials) {
      RETURN_IF_ERROR(InsertCredentialRow(conn, c));
    }
    return OkStatus();
  });
}

StatusOr<Agent> PostgresStoreImpl::GetAgent(std::string_view agent_id) {
  return GetById(kAgentColumnsSql, agent_id, "agent not found", ReadAgent);
}

StatusOr<std::vector<Agent>> PostgresStoreImpl::ListAgents(
    std::optional<std::string_view> owner_id) {
  return ListByOwner(kAgentColumnsSql, owner_id, ReadAgent);
}

Status PostgresStoreImpl::UpdateAgent(std::string_view agent_id, const AgentUpdate& update,
                                      UnixMicros at, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // The row lock orders this against a concurrent revocation of the agent, on any server.
    ASSIGN_OR_RETURN(PgResult agent,
                     conn.Exec("SELECT revoked_at IS NOT NULL FROM agents WHERE id = $1"
                               " FOR UPDATE",
                               PgParams().Text(agent_id)));
    if (agent.rows() == 0) {
      return NotFoundError("agent not found");
    }
    if (agent.Bool(0, 0)) {
      return FailedPreconditionError("the agent is revoked");
    }
    if (update.name.has_value()) {
      Status s = conn.Run("UPDATE agents SET name = $2 WHERE id = $1",
                          PgParams().Text(agent_id).Text(*update.name));
      RETURN_IF_ERROR(RewordDuplicate(std::move(s), conn, {"agents_owner_name_key"},
                                      "an agent named '" + *update.name + "' already exists",
                                      "an agent with this id already exists"));
    }
    if (update.description.has_value()) {
      RETURN_IF_ERROR(conn.Run("UPDATE agents SET description = $2 WHERE id = $1",
                               PgParams().Text(agent_id).Text(*update.description)));
    }
    if (update.is_active.has_value()) {
      RETURN_IF_ERROR(
          *update.is_active
              ? conn.Run("UPDATE agents SET deactivated_at = NULL WHERE id = $1",
                         PgParams().Text(agent_id))
              : conn.Run("UPDATE agents SET deactivated_at = COALESCE(deactivated_at, $2)"
                         " WHERE id = $1",
                         PgParams().Text(agent_id).Int(at)));
    }
    return OkStatus();
  });
}

Status PostgresStoreImpl::RevokeAgent(std::string_view agent_id, UnixMicros at,
                                      const AuditEvent* audit) {
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE agents SET revoked_at = COALESCE(revoked_at, $2)"
                                           " WHERE id = $1",
                                           PgParams().Text(agent_id).Int(at)));
    if (r.affected() == 0) {
      return NotFoundError("agent not found");
    }
    // A revoked agent is gone for good: so are its gateway bindings.
    RETURN_IF_ERROR(
        conn.Run("DELETE FROM bindings WHERE agent_id = $1", PgParams().Text(agent_id)));
    return RevokeAgentCredentialRows(conn, agent_id, at);
  });
}

Status PostgresStoreImpl::ReplaceAgentCredentials(std::string_view agent_id,
                                                  const std::vector<std::string>& expected_active,
                                                  const std::vector<Credential>& fresh,
                                                  UnixMicros at, const AuditEvent* audit) {
  RETURN_IF_ERROR(CheckAgentCredentials(agent_id, fresh));
  const StoreChange change = StoreChange::Principal(PrincipalKind::kAgent, std::string(agent_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    // The agent's row lock serializes every rotation and revocation of this agent, on any
    // server; the credential rows are locked too, so a revocation of one of them by id
    // either finishes first (and the check below sees it) or waits for this swap.
    ASSIGN_OR_RETURN(PgResult agent,
                     conn.Exec("SELECT revoked_at IS NOT NULL FROM agents WHERE id = $1"
                               " FOR UPDATE",
                               PgParams().Text(agent_id)));
    if (agent.rows() == 0) {
      return NotFoundError("agent not found");
    }
    if (agent.Bool(0, 0)) {
      return FailedPreconditionError("the agent is revoked");
    }
    for (const std::string& public_id : expected_active) {
      ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT 1 FROM credentials WHERE public_id = $1"
                                             " AND principal_kind = 'agent' AND principal_id = $2"
                                             " AND revoked_at IS NULL FOR UPDATE",
                                             PgParams().Text(public_id).Text(agent_id)));
      if (r.rows() == 0) {
        return AbortedError("the agent's credentials changed since they were read");
      }
    }
    RETURN_IF_ERROR(RevokeAgentCredentialRows(conn, agent_id, at));
    for (const Credential& c : fresh) {
      RETURN_IF_ERROR(InsertCredentialRow(conn, c));
    }
    return OkStatus();
  });
}

// --- policies ----------------------------------------------------------------------------------

Status PostgresStoreImpl::InsertPolicy(const Policy& p, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Policies(p.vault_id);
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    PgParams params;
    params.Text(p.id)
        .Text(p.vault_id)
        .Text(PrincipalKindName(p.principal_kind))
        .Text(p.principal_id)
        .Text(p.path_glob)
        .Int(p.permissions)
        .OptionalInt(p.expires_at)
        .Int(p.created_at)
        .Text(p.created_by);
    AddPolicyColumns(params, p).OptionalInt(p.updated_at);
    Status s = conn.Run(
        "INSERT INTO policies (id, vault_id, principal_kind, principal_id, path_glob, permissions,"
        " expires_at, created_at, created_by, effect, priority, window_start_hour,"
        " window_end_hour, window_days, window_timezone, ip_allowlist, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::integer, $7, $8, $9, $10, $11, $12::integer,"
        " $13::integer, $14::integer, NULLIF($15, ''), $16, $17)",
        params);
    s = Reword(std::move(s), StatusCode::kNotFound, "vault not found");
    return Reword(std::move(s), StatusCode::kAlreadyExists, "a policy with this id already exists");
  });
}

StatusOr<Policy> PostgresStoreImpl::GetPolicy(std::string_view vault_id,
                                              std::string_view policy_id) {
  return Read([&](PgConnection& conn) -> StatusOr<Policy> {
    ASSIGN_OR_RETURN(PgResult r,
                     conn.Exec(std::string(kPolicyColumnsSql) + " WHERE id = $2 AND vault_id = $1",
                               PgParams().Text(vault_id).Text(policy_id)));
    if (r.rows() == 0) {
      return Err(NotFoundError("policy not found"));
    }
    return ReadPolicy(r, 0);
  });
}

StatusOr<std::vector<Policy>> PostgresStoreImpl::ListPolicies(std::string_view vault_id) {
  return Read([&](PgConnection& conn) -> StatusOr<std::vector<Policy>> {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec(std::string(kPolicyColumnsSql) +
                                               " WHERE vault_id = $1 ORDER BY created_at, ord",
                                           PgParams().Text(vault_id)));
    return ReadAll<Policy>(r, ReadPolicy);
  });
}

StatusOr<std::vector<Policy>> PostgresStoreImpl::ListPoliciesForPrincipal(
    PrincipalKind kind, std::string_view principal_id) {
  return ListByPrincipal(kPolicyColumnsSql, kind, principal_id, ReadPolicy);
}

Status PostgresStoreImpl::UpdatePolicy(const Policy& p, const AuditEvent* audit) {
  const StoreChange change = StoreChange::Policies(p.vault_id);
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    PgParams params;
    params.Text(p.vault_id).Text(p.id).Int(p.permissions).OptionalInt(p.expires_at);
    AddPolicyColumns(params, p).OptionalInt(p.updated_at);
    ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec("UPDATE policies SET permissions = $3::integer, expires_at = $4, effect = $5,"
                  " priority = $6, window_start_hour = $7::integer, window_end_hour = $8::integer,"
                  " window_days = $9::integer, window_timezone = NULLIF($10, ''),"
                  " ip_allowlist = $11, updated_at = $12 WHERE id = $2 AND vault_id = $1",
                  params));
    if (r.affected() == 0) {
      return NotFoundError("policy not found");
    }
    return OkStatus();
  });
}

Status PostgresStoreImpl::DeletePolicy(std::string_view vault_id, std::string_view policy_id,
                                       const AuditEvent* audit) {
  const StoreChange change = StoreChange::Policies(std::string(vault_id));
  return WriteChange(change, audit, [&](PgConnection& conn, AuditEvent*) -> Status {
    ASSIGN_OR_RETURN(PgResult r, conn.Exec("DELETE FROM policies WHERE id = $2 AND vault_id = $1",
                                           PgParams().Text(vault_id).Text(policy_id)));
    if (r.affected() == 0) {
      return NotFoundError("policy not found");
    }
    return OkStatus();
  });
}

}  // namespace coffer::postgres_internal
