// Agent lifecycle and credential rotation.
#include "service/agent_service.h"

#include <fmt/format.h>

#include "common/ids.h"
#include "crypto/api_token.h"
#include "service/key_grace.h"
#include "service/vault_service.h"

namespace coffer {

StatusOr<std::pair<IssuedCredential, IssuedCredential>> AgentService::NewCredentials(
    const Agent& agent) {
  const UnixMicros now = deps_.clock.Now();
  ASSIGN_OR_RETURN(IssuedCredential key, MintAgentKeyCredential(agent.id, keyring_, now));
  ASSIGN_OR_RETURN(IssuedCredential rot,
                   MintCredential(kTokenKindRotation, PrincipalKind::kAgent, agent.id,
                                  "rotation secret", keyring_, now));
  return std::make_pair(std::move(key), std::move(rot));
}

StatusOr<Agent> AgentService::Manageable(const RequestContext& ctx, std::string_view agent_id,
                                         bool allow_self) {
  if (!IsUuid(agent_id)) return Err(InvalidArgumentError("agent_id must be a UUID"));
  auto agent = deps_.store.GetAgent(agent_id);
  if (!agent.has_value()) return Err(NotFoundAs(agent.error(), "agent not found"));
  const Principal& p = ctx.principal;
  const bool owner = p.kind == PrincipalKind::kUser && p.id == agent->owner_id;
  const bool self = allow_self && p.kind == PrincipalKind::kAgent && p.id == agent->id;
  if (!p.is_admin && !owner && !self) {
    // Someone else's agent does not exist for this caller.
    return Err(NotFoundError("agent not found"));
  }
  return agent;
}

StatusOr<AgentWithCredentials> AgentService::Create(const RequestContext& ctx,
                                                    CreateAgentRequest request) {
  return deps_.audit.Audited<AgentWithCredentials>(
      ctx, "agent.create", [&](AuditEvent& event) -> StatusOr<AgentWithCredentials> {
        if (ctx.principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError("only users create agents"));
        }
        RETURN_IF_ERROR(ValidateName(request.name, "name"));
        RETURN_IF_ERROR(ValidateDescription(request.description));
        Agent agent;
        agent.id = NewUuid(deps_.random);
        agent.name = std::move(request.name);
        agent.description = std::move(request.description);
        agent.owner_id = ctx.principal.id;
        agent.created_at = deps_.clock.Now();
        ASSIGN_OR_RETURN(auto credentials, NewCredentials(agent));
        Status s = deps_.store.InsertAgent(
            agent, {credentials.first.credential, credentials.second.credential},
            AuditLog::Success(event));
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return AgentWithCredentials{std::move(agent), std::move(credentials.first.token),
                                    std::move(credentials.second.token)};
      });
}

StatusOr<std::vector<Agent>> AgentService::List(const RequestContext& ctx) {
  return deps_.audit.Audited<std::vector<Agent>>(
      ctx, "agent.list", [&](AuditEvent&) -> StatusOr<std::vector<Agent>> {
        if (ctx.principal.is_admin) return deps_.store.ListAgents(std::nullopt);
        if (ctx.principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError("agents cannot list agents"));
        }
        return deps_.store.ListAgents(std::string_view(ctx.principal.id));
      });
}

StatusOr<Agent> AgentService::Get(const RequestContext& ctx, std::string_view agent_id) {
  return deps_.audit.Audited<Agent>(ctx, "agent.read", [&](AuditEvent&) -> StatusOr<Agent> {
    return Manageable(ctx, agent_id, /*allow_self=*/true);
  });
}

StatusOr<Agent> AgentService::Self(const RequestContext& ctx) {
  return deps_.audit.Audited<Agent>(ctx, "agent.read", [&](AuditEvent&) -> StatusOr<Agent> {
    if (ctx.principal.kind != PrincipalKind::kAgent) {
      return Err(PermissionDeniedError(
          "GET /v1/agents/me is for agents; a user has no agent record (use GET /v1/agents)"));
    }
    return deps_.store.GetAgent(ctx.principal.id);
  });
}

StatusOr<Agent> AgentService::Update(const RequestContext& ctx, std::string_view agent_id,
                                     UpdateAgentRequest request) {
  const char* action = !request.is_active.has_value() ? "agent.update"
                       : *request.is_active           ? "agent.reactivate"
                                                      : "agent.deactivate";
  return deps_.audit.Audited<Agent>(ctx, action, [&](AuditEvent& event) -> StatusOr<Agent> {
    ASSIGN_OR_RETURN(Agent agent, Manageable(ctx, agent_id, /*allow_self=*/false));
    if (agent.is_revoked()) {
      return Err(FailedPreconditionError("agent is revoked (deleted); create a new one"));
    }
    AgentUpdate update;
    if (request.name.has_value()) {
      RETURN_IF_ERROR(ValidateName(*request.name, "name"));
      update.name = std::move(request.name);
    }
    if (request.description.has_value()) {
      RETURN_IF_ERROR(ValidateDescription(*request.description));
      update.description = std::move(request.description);
    }
    update.is_active = request.is_active;
    const UnixMicros now = deps_.clock.Now();
    RETURN_IF_ERROR(deps_.store.UpdateAgent(agent.id, update, now, AuditLog::Success(event)));
    AuditLog::MarkWritten(ctx);
    // What the store now holds (deactivating again keeps the first time, as the store does).
    if (update.name.has_value()) agent.name = std::move(*update.name);
    if (update.description.has_value()) agent.description = std::move(*update.description);
    if (update.is_active.has_value()) {
      if (*update.is_active) {
        agent.deactivated_at.reset();
      } else if (!agent.deactivated_at.has_value()) {
        agent.deactivated_at = now;
      }
    }
    return agent;
  });
}

Status AgentService::Revoke(const RequestContext& ctx, std::string_view agent_id) {
  auto result =
      deps_.audit.Audited<bool>(ctx, "agent.revoke", [&](AuditEvent& event) -> StatusOr<bool> {
        ASSIGN_OR_RETURN(Agent agent, Manageable(ctx, agent_id, /*allow_self=*/false));
        Status s = deps_.store.RevokeAgent(agent.id, deps_.clock.Now(), AuditLog::Success(event));
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return true;
      });
  return result.has_value() ? OkStatus() : result.error();
}

StatusOr<AgentWithCredentials> AgentService::RotateKey(const RequestContext& ctx,
                                                       std::string_view agent_id,
                                                       int64_t grace_seconds) {
  return deps_.audit.Audited<AgentWithCredentials>(
      ctx, "agent.rotate_key", [&](AuditEvent& event) -> StatusOr<AgentWithCredentials> {
        ASSIGN_OR_RETURN(Agent agent, Manageable(ctx, agent_id, /*allow_self=*/false));
        if (agent.is_revoked()) {
          return Err(FailedPreconditionError("agent is revoked; create a new one"));
        }
        RETURN_IF_ERROR(ValidateGraceSeconds(grace_seconds));
        ASSIGN_OR_RETURN(auto credentials, NewCredentials(agent));
        const UnixMicros now = deps_.clock.Now();
        Status s;
        if (grace_seconds == 0) {
          event.path = agent.id;  // which agent: agent.key_rotated webhooks name it
          // A human rotation replaces whatever is active, so no expectation.
          s = deps_.store.ReplaceAgentCredentials(
              agent.id, {}, {credentials.first.credential, credentials.second.credential}, now,
              AuditLog::Success(event));
        } else {
          const UnixMicros until = now + grace_seconds * kMicrosPerSecond;
          event.path = KeyAuditPath(PrincipalKind::kAgent, agent.id, "", grace_seconds, until);
          s = deps_.store.RotateWithGrace(
              GraceRotation{.principal_kind = PrincipalKind::kAgent,
                            .principal_id = agent.id,
                            .fresh = {credentials.first.credential, credentials.second.credential},
                            .at = now,
                            .keys_until = until},
              AuditLog::Success(event));
        }
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return AgentWithCredentials{std::move(agent), std::move(credentials.first.token),
                                    std::move(credentials.second.token)};
      });
}

StatusOr<AgentWithCredentials> AgentService::SelfRotate(
    const RequestContext& anonymous, std::optional<std::string_view> authorization,
    const StatusOr<std::optional<std::string_view>>& rotation_secret) {
  RequestContext ctx = anonymous;
  // An address over its budget of refused credentials is answered before anything is looked at
  // (not audited, counted for its summary).
  RETURN_IF_ERROR(auth_.AdmitClient(ctx.client_ip));
  // Every request to the endpoint counts, whatever its outcome.
  const UnixMicros now = deps_.clock.Now();
  auto decision = deps_.store.HitRateLimit("agent-self-rotate:" + ctx.client_ip, kSelfRotateWindow,
                                           kSelfRotateLimit, now);
  std::optional<VerifiedCredential> key;
  if (decision.has_value() && decision->allowed) {
    auto bearer = AuthService::BearerToken(authorization);
    if (bearer.has_value() && LooksLikeToken(*bearer)) {
      auto verified = auth_.Verify(*bearer, kTokenKindApiKey);
      if (verified.has_value() && verified->principal.kind == PrincipalKind::kAgent) {
        key = std::move(*verified);
        ctx.principal = key->principal;
      }
    }
  }
  auto result = deps_.audit.Audited<AgentWithCredentials>(
      ctx, "agent.self_rotate_key", [&](AuditEvent& event) -> StatusOr<AgentWithCredentials> {
        if (!decision.has_value()) return Err(decision.error());
        if (!decision->allowed) {
          Status limited = ResourceExhaustedError(fmt::format(
              "too many rotation attempts: at most {} per 15 minutes", kSelfRotateLimit));
          limited.SetPayload({.retry_after = std::chrono::microseconds(decision->retry_after)});
          return Err(std::move(limited));
        }
        if (!key.has_value()) return Err(UnauthenticatedError("invalid API key"));
        if (key->principal_revoked) return Err(PermissionDeniedError("agent is revoked"));
        if (key->principal_deactivated) {
          return Err(PermissionDeniedError("agent is deactivated (is_active is false)"));
        }
        if (!rotation_secret.has_value()) return Err(rotation_secret.error());
        if (!rotation_secret->has_value() || (*rotation_secret)->empty()) {
          return Err(InvalidArgumentError("rotationSecret is required"));
        }
        const std::string_view presented = **rotation_secret;
        ASSIGN_OR_RETURN(std::vector<Credential> all,
                         deps_.store.ListCredentials(PrincipalKind::kAgent, key->principal.id));
        const bool configured = std::any_of(all.begin(), all.end(), [](const Credential& c) {
          return c.kind == kTokenKindRotation && !c.revoked_at.has_value();
        });
        if (!configured) {
          return Err(PermissionDeniedError("no rotation secret is configured for this agent"));
        }
        auto secret = LooksLikeToken(presented)
                          ? auth_.Verify(presented, kTokenKindRotation)
                          : StatusOr<VerifiedCredential>(Err(UnauthenticatedError("")));
        if (!secret.has_value() || secret->principal.kind != PrincipalKind::kAgent ||
            secret->principal.id != key->principal.id) {
          return Err(UnauthenticatedError("invalid rotation secret"));
        }
        ASSIGN_OR_RETURN(Agent agent, deps_.store.GetAgent(key->principal.id));
        ASSIGN_OR_RETURN(auto credentials, NewCredentials(agent));
        // Compare-and-swap on exactly the presented pair: a concurrent rotation that won
        // leaves them revoked, and this one fails.
        Status s = deps_.store.ReplaceAgentCredentials(
            agent.id, {key->credential.public_id, secret->credential.public_id},
            {credentials.first.credential, credentials.second.credential}, deps_.clock.Now(),
            AuditLog::Success(event));
        if (s.code() == StatusCode::kAborted) {
          return Err(UnauthenticatedError("invalid API key or rotation secret"));
        }
        if (s.code() == StatusCode::kFailedPrecondition) {
          return Err(PermissionDeniedError("agent is revoked"));
        }
        RETURN_IF_ERROR(s);
        AuditLog::MarkWritten(ctx);
        return AgentWithCredentials{std::move(agent), std::move(credentials.first.token),
                                    std::move(credentials.second.token)};
      });
  auth_.NoteResult(ctx.client_ip, result.has_value() ? OkStatus() : result.error());
  return result;
}

}  // namespace coffer
