// BindingService: binding CRUD with its permission rules, the connectivity test, and a
// credential rotation that writes a new version of the referenced secret.
#include "service/binding_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/ids.h"
#include "model/secret_path.h"

namespace coffer {
namespace {

// Collects the outcome of a connectivity test.
class TestSink : public gateway::UpstreamSink {
 public:
  void OnHead(int status, std::vector<std::pair<std::string, std::string>>) override {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  bool OnBody(std::string_view) override { return false; }  // the head is all a test needs
  void OnDone(Status status) override {
    std::lock_guard lock(mu_);
    done_ = std::move(status);
    cv_.notify_all();
  }
  // The head's status (0: none) and the end's status, once it ends.
  std::pair<int, Status> Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return done_.has_value(); });
    return {status_, *done_};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int status_ = 0;
  std::optional<Status> done_;
};

}  // namespace

Status ValidateBindingName(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 64 &&
                  std::all_of(name.begin(), name.end(), [](unsigned char c) {
                    return std::isalnum(c) != 0 || c == '_' || c == '-';
                  });
  if (!ok) return InvalidArgumentError("name must be 1 to 64 characters of [A-Za-z0-9_-]");
  return OkStatus();
}

StatusOr<Agent> BindingService::VisibleAgent(const RequestContext& ctx, std::string_view agent_id,
                                             bool allow_self) {
  const Principal& p = ctx.principal;
  std::string id(agent_id);
  if (id == "self") {
    if (p.kind != PrincipalKind::kAgent) {
      return Err(InvalidArgumentError("agent_id \"self\" is for agents"));
    }
    id = p.id;
  }
  if (!IsUuid(id)) return Err(InvalidArgumentError("agent_id must be a UUID or \"self\""));
  auto agent = deps_.store.GetAgent(id);
  if (!agent.has_value()) return Err(NotFoundAs(agent.error(), "agent not found"));
  if (agent->is_revoked()) return Err(NotFoundError("agent not found"));
  const bool owner = p.kind == PrincipalKind::kUser && p.id == agent->owner_id;
  const bool self = allow_self && p.kind == PrincipalKind::kAgent && p.id == agent->id;
  if (!p.is_admin && !owner && !self) return Err(NotFoundError("agent not found"));
  return agent;
}

StatusOr<Binding> BindingService::FindOwned(const Agent& agent, std::string_view binding_id) {
  auto binding = deps_.store.FindBinding(agent.id, binding_id);
  if (!binding.has_value()) return Err(NotFoundAs(binding.error(), "binding not found"));
  return binding;
}

Status BindingService::Validate(const RequestContext& ctx, Binding& b) {
  RETURN_IF_ERROR(ValidateBindingName(b.name));
  if (b.binding_type != "http") {
    return InvalidArgumentError("binding_type must be \"http\" (the only type this server runs)");
  }
  ASSIGN_OR_RETURN(const BindingConfig config, ParseBindingConfig(b.config_json));
  RETURN_IF_ERROR(CheckBindingDestination(config, guard_));
  ASSIGN_OR_RETURN(const BindingGuardrails guardrails, ParseBindingGuardrails(b.guardrails_json));
  b.config_json = BindingConfigJson(config);
  b.guardrails_json = BindingGuardrailsJson(guardrails);
  if (!IsUuid(b.vault_id)) {
    return InvalidArgumentError("credential_source.vault_id must be a UUID");
  }
  if (Status s = ValidateSecretPath(b.path); !s.ok()) {
    return InvalidArgumentError(fmt::format("credential_source.path: {}", s.message()));
  }
  auto vault = deps_.store.GetVault(b.vault_id);
  if (!vault.has_value()) return Err(NotFoundAs(vault.error(), "vault not found"));
  if (!ctx.principal.is_admin) {
    // A binding sends the value to a host its author chooses: making one is reading the value.
    Status allowed = deps_.authorizer.Authorize(ctx, *vault, b.path, Permission::kRead);
    if (!allowed.ok()) {
      if (allowed.code() == StatusCode::kPermissionDenied) {
        return PermissionDeniedError(
            "a binding may be made only by the admin or someone who may read its secret");
      }
      return allowed;
    }
  }
  return OkStatus();
}

StatusOr<Binding> BindingService::Create(const RequestContext& ctx, std::string_view agent_id,
                                         CreateBindingRequest request) {
  return deps_.audit.Audited<Binding>(
      ctx, "binding.create", [&](AuditEvent& event) -> StatusOr<Binding> {
        if (ctx.principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError("agents cannot create bindings"));
        }
        AuditLog::SetTarget(event, request.vault_id, request.path);
        // The admin or anyone who may read the secret, for any agent that exists.
        std::string id(agent_id);
        if (!IsUuid(id)) return Err(InvalidArgumentError("agent_id must be a UUID"));
        auto agent = deps_.store.GetAgent(id);
        if (!agent.has_value() || agent->is_revoked()) {
          return Err(NotFoundError("agent not found"));
        }
        Binding b;
        b.id = NewUuid(deps_.random);
        b.agent_id = agent->id;
        b.name = std::move(request.name);
        b.binding_type = std::move(request.binding_type);
        b.config_json = std::move(request.config_json);
        b.guardrails_json = std::move(request.guardrails_json);
        b.vault_id = std::move(request.vault_id);
        b.path = std::move(request.path);
        b.is_active = true;
        b.created_by = ctx.principal.id;
        b.created_at = deps_.clock.Now();
        b.updated_at = b.created_at;
        RETURN_IF_ERROR(Validate(ctx, b));
        Status inserted = deps_.store.InsertBinding(b, AuditLog::Success(event));
        if (!inserted.ok()) {
          if (inserted.code() == StatusCode::kAlreadyExists) {
            return Err(AlreadyExistsError(
                fmt::format("the agent already has a binding named \"{}\"", b.name)));
          }
          return Err(inserted);
        }
        AuditLog::MarkWritten(ctx);
        return b;
      });
}

StatusOr<std::vector<Binding>> BindingService::List(const RequestContext& ctx,
                                                    std::string_view agent_id) {
  return deps_.audit.Audited<std::vector<Binding>>(
      ctx, "binding.list", [&](AuditEvent&) -> StatusOr<std::vector<Binding>> {
        ASSIGN_OR_RETURN(Agent agent, VisibleAgent(ctx, agent_id, /*allow_self=*/true));
        return deps_.store.ListBindings(agent.id);
      });
}

StatusOr<Binding> BindingService::Get(const RequestContext& ctx, std::string_view agent_id,
                                      std::string_view binding_id) {
  return deps_.audit.Audited<Binding>(ctx, "binding.read", [&](AuditEvent&) -> StatusOr<Binding> {
    ASSIGN_OR_RETURN(Agent agent, VisibleAgent(ctx, agent_id, /*allow_self=*/true));
    return FindOwned(agent, binding_id);
  });
}

StatusOr<Binding> BindingService::Update(const RequestContext& ctx, std::string_view agent_id,
                                         std::string_view binding_id,
                                         UpdateBindingRequest request) {
  return deps_.audit.Audited<Binding>(
      ctx, "binding.update", [&](AuditEvent& event) -> StatusOr<Binding> {
        if (ctx.principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError("agents cannot change bindings"));
        }
        if (!IsUuid(agent_id)) return Err(InvalidArgumentError("agent_id must be a UUID"));
        auto agent = deps_.store.GetAgent(agent_id);
        if (!agent.has_value() || agent->is_revoked()) {
          return Err(NotFoundError("agent not found"));
        }
        ASSIGN_OR_RETURN(Binding b, FindOwned(*agent, binding_id));
        if (request.vault_id.has_value() != request.path.has_value()) {
          return Err(InvalidArgumentError("credential_source must give both vault_id and path"));
        }
        if (request.name.has_value()) b.name = std::move(*request.name);
        if (request.config_json.has_value()) b.config_json = std::move(*request.config_json);
        if (request.guardrails_json.has_value()) {
          b.guardrails_json = std::move(*request.guardrails_json);
        }
        if (request.is_active.has_value()) b.is_active = *request.is_active;
        if (request.vault_id.has_value()) {
          b.vault_id = std::move(*request.vault_id);
          b.path = std::move(*request.path);
        }
        AuditLog::SetTarget(event, b.vault_id, b.path);
        const bool owner = ctx.principal.id == agent->owner_id;
        const bool only_state =
            !request.name && !request.config_json && !request.guardrails_json && !request.vault_id;
        if (only_state && (owner || ctx.principal.is_admin)) {
          // Switching a binding off or on (the kill switch) is the agent owner's to do.
          RETURN_IF_ERROR(ValidateBindingName(b.name));
        } else {
          RETURN_IF_ERROR(Validate(ctx, b));
        }
        b.updated_at = deps_.clock.Now();
        Status updated = deps_.store.UpdateBinding(b, AuditLog::Success(event));
        if (!updated.ok()) {
          if (updated.code() == StatusCode::kAlreadyExists) {
            return Err(AlreadyExistsError(
                fmt::format("the agent already has a binding named \"{}\"", b.name)));
          }
          return Err(NotFoundAs(updated, "binding not found"));
        }
        AuditLog::MarkWritten(ctx);
        return b;
      });
}

Status BindingService::Delete(const RequestContext& ctx, std::string_view agent_id,
                              std::string_view binding_id) {
  auto done =
      deps_.audit.Audited<bool>(ctx, "binding.delete", [&](AuditEvent& event) -> StatusOr<bool> {
        if (ctx.principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError("agents cannot delete bindings"));
        }
        ASSIGN_OR_RETURN(Agent agent, VisibleAgent(ctx, agent_id, /*allow_self=*/false));
        ASSIGN_OR_RETURN(Binding b, FindOwned(agent, binding_id));
        AuditLog::SetTarget(event, b.vault_id, b.path);
        Status deleted = deps_.store.DeleteBinding(b.id, AuditLog::Success(event));
        if (!deleted.ok()) return Err(NotFoundAs(deleted, "binding not found"));
        AuditLog::MarkWritten(ctx);
        return true;
      });
  if (!done.has_value()) return done.error();
  return OkStatus();
}

StatusOr<BindingTestResult> BindingService::Test(const RequestContext& ctx,
                                                 std::string_view agent_id,
                                                 std::string_view binding_id,
                                                 std::chrono::milliseconds timeout) {
  return deps_.audit.Audited<BindingTestResult>(
      ctx, "binding.test", [&](AuditEvent& event) -> StatusOr<BindingTestResult> {
        if (ctx.principal.kind != PrincipalKind::kUser) {
          return Err(PermissionDeniedError("agents cannot test bindings"));
        }
        if (timeout < std::chrono::milliseconds(100) || timeout > std::chrono::seconds(30)) {
          return Err(InvalidArgumentError("timeout_ms must be between 100 and 30000"));
        }
        ASSIGN_OR_RETURN(Agent agent, VisibleAgent(ctx, agent_id, /*allow_self=*/false));
        ASSIGN_OR_RETURN(Binding b, FindOwned(agent, binding_id));
        AuditLog::SetTarget(event, b.vault_id, b.path);
        ASSIGN_OR_RETURN(const BindingConfig config, ParseBindingConfig(b.config_json));
        if (upstream_ == nullptr) return Err(UnavailableError("outbound calls are not set up"));
        gateway::UpstreamRequest request;
        request.method = "HEAD";
        request.url = config.base_url + "/";
        request.allow_http = config.scheme == "http";
        request.max_duration = timeout;
        request.max_response_bytes = 0;
        auto sink = std::make_shared<TestSink>();
        const MonotonicTime start = deps_.monotonic_clock.Now();
        auto call = upstream_->Start(std::move(request), sink);
        auto [status, done] = sink->Wait();
        BindingTestResult result;
        result.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                deps_.monotonic_clock.Now() - start)
                                .count();
        result.success = status > 0;
        if (!result.success) {
          result.error = done.ok() ? "no answer" : std::string(done.message());
        }
        return result;
      });
}

StatusOr<Binding> BindingService::RotateCredential(const RequestContext& ctx,
                                                   std::string_view agent_id,
                                                   std::string_view binding_id,
                                                   SecretBuffer credential) {
  if (ctx.principal.kind != PrincipalKind::kUser) {
    return deps_.audit.Audited<Binding>(
        ctx, "binding.rotate_credential", [](AuditEvent&) -> StatusOr<Binding> {
          return Err(PermissionDeniedError("agents cannot rotate a binding's credential"));
        });
  }
  auto agent = VisibleAgent(ctx, agent_id, /*allow_self=*/false);
  StatusOr<Binding> binding =
      agent.has_value() ? FindOwned(*agent, binding_id) : StatusOr<Binding>(Err(agent.error()));
  if (!binding.has_value()) {
    return deps_.audit.Audited<Binding>(
        ctx, "binding.rotate_credential",
        [&](AuditEvent&) -> StatusOr<Binding> { return Err(binding.error()); });
  }
  // The secret's own write is the request's audit event (secret.write, with its version).
  PutSecretRequest put;
  put.type = "api_key";
  auto latest =
      deps_.store.GetSecretVersion(binding->vault_id, binding->path, VersionSelector::LatestAny());
  if (latest.has_value()) {
    put.type = std::string(SecretTypeName(latest->type));
    put.metadata_json = latest->metadata_json;
  }
  put.value = std::move(credential);
  ASSIGN_OR_RETURN(SecretVersion written,
                   secrets_.Put(ctx, binding->vault_id, binding->path, std::move(put)));
  (void)written;
  return *binding;
}

}  // namespace coffer
