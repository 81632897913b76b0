// AgentService: agents created by users, with one API key and one rotation secret each;
// revocation; rotation by a human (owner or admin) and by the agent itself (seed 003), rate
// limited per client IP across every server sharing the store. Old credentials are refused the
// moment a rotation returns. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/identity.h"
#include "service/auth_service.h"
#include "service/principal.h"
#include "service/service_deps.h"

namespace coffer {

struct CreateAgentRequest {
  std::string name;
  std::string description;
};

// PATCH /v1/agents/{id}: what to change (nullopt: leave as is).
struct UpdateAgentRequest {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<bool> is_active;
};

// An agent with freshly issued credentials (shown once).
struct AgentWithCredentials {
  Agent agent;
  SecretBuffer api_key;
  SecretBuffer rotation_secret;
};

// Self-rotation limit: this many requests per window per client IP.
inline constexpr int64_t kSelfRotateLimit = 3;
inline constexpr UnixMicros kSelfRotateWindow = 15 * 60 * kMicrosPerSecond;

class AgentService {
 public:
  AgentService(const ServiceDeps& deps, AuthService& auth, const Keyring& keyring)
      : deps_(deps), auth_(auth), keyring_(keyring) {}

  // Users only; the caller owns the agent. kAlreadyExists for a duplicate name.
  StatusOr<AgentWithCredentials> Create(const RequestContext& ctx, CreateAgentRequest request);
  // The caller's agents (the admin: all).
  StatusOr<std::vector<Agent>> List(const RequestContext& ctx);
  // Owner, admin, or the agent itself.
  StatusOr<Agent> Get(const RequestContext& ctx, std::string_view agent_id);
  // The calling agent's own record. kPermissionDenied for a user (who has no agent record).
  StatusOr<Agent> Self(const RequestContext& ctx);
  // Owner or admin: renames, describes, deactivates (is_active false: every credential and
  // token of the agent is refused at once, on every server, until reactivated) or reactivates
  // it. Audited as agent.deactivate / agent.reactivate when is_active is given, else
  // agent.update. kNotFound, kAlreadyExists (the owner has an agent of that name),
  // kInvalidArgument (name, description), kFailedPrecondition for a revoked (deleted) agent.
  StatusOr<Agent> Update(const RequestContext& ctx, std::string_view agent_id,
                         UpdateAgentRequest request);
  // Owner or admin. Idempotent.
  Status Revoke(const RequestContext& ctx, std::string_view agent_id);
  // Owner or admin: new API key (`ocv_…`) and rotation secret; the old ones stop working.
  // With `grace_seconds` > 0 (at most kMaxGraceSeconds, else kInvalidArgument naming it) the
  // old API key keeps working that long (service/key_grace.h); 0: it stops at once.
  StatusOr<AgentWithCredentials> RotateKey(const RequestContext& ctx, std::string_view agent_id,
                                           int64_t grace_seconds = 0);

  // The agent rotates its own credentials. `ctx` has no principal yet (request id and client
  // IP only); `rotation_secret` is what the body held, or why the body was refused (reported
  // only after the rate limit and the key are checked, so every request counts). Checks, in
  // order: the address's budget of refused credentials (AuthService::AdmitClient: nothing else
  // is looked at nor audited when it is spent); the rate limit (kResourceExhausted, with the
  // wait in its payload's retry_after); the Bearer API key (kUnauthenticated); a revoked agent
  // (kPermissionDenied); the rotation secret present (kInvalidArgument), configured
  // (kPermissionDenied) and valid (kUnauthenticated). Of concurrent rotations with the same
  // credentials exactly one succeeds; the others get kUnauthenticated.
  StatusOr<AgentWithCredentials> SelfRotate(
      const RequestContext& ctx, std::optional<std::string_view> authorization,
      const StatusOr<std::optional<std::string_view>>& rotation_secret);

 private:
  // kNotFound unless the agent exists and the caller may manage it (owner or admin); an agent
  // may also read itself when `allow_self`.
  StatusOr<Agent> Manageable(const RequestContext& ctx, std::string_view agent_id, bool allow_self);
  // Mints a key and a rotation secret for the agent.
  StatusOr<std::pair<IssuedCredential, IssuedCredential>> NewCredentials(const Agent& agent);

  ServiceDeps deps_;
  AuthService& auth_;
  const Keyring& keyring_;
};

}  // namespace coffer
