// BindingService: an agent's gateway bindings (model/binding.h) — where the agent may send a
// secret it never reads, and how. Created and changed only by the admin or a user who may read
// the referenced secret (a binding to a host of one's choosing is a read); listed and read by
// the admin, the agent's owner and the agent itself. Every change is audited. Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret_buffer.h"
#include "common/status.h"
#include "gateway/egress_guard.h"
#include "gateway/upstream.h"
#include "model/binding.h"
#include "service/binding_config.h"
#include "service/principal.h"
#include "service/secret_service.h"
#include "service/service_deps.h"

namespace coffer {

struct CreateBindingRequest {
  std::string name;
  std::string binding_type = "http";
  std::string config_json = "{}";      // a JSON object (service/binding_config.h)
  std::string guardrails_json = "{}";  // a JSON object
  std::string vault_id;                // credential_source {type: vault_ref, vault_id, path}
  std::string path;
};

// PATCH: what to change (nullopt: leave as is).
struct UpdateBindingRequest {
  std::optional<std::string> name;
  std::optional<std::string> config_json;
  std::optional<std::string> guardrails_json;
  std::optional<bool> is_active;
  std::optional<std::string> vault_id;  // both or neither
  std::optional<std::string> path;
};

struct BindingTestResult {
  bool success = false;
  int64_t latency_ms = 0;
  std::string error;  // empty on success
};

class BindingService {
 public:
  // `guard`: the server's egress allow-list (plain http only inside it); `upstream`: for Test.
  BindingService(const ServiceDeps& deps, SecretService& secrets, gateway::EgressGuard guard,
                 gateway::UpstreamClient* upstream)
      : deps_(deps), secrets_(secrets), guard_(std::move(guard)), upstream_(upstream) {}

  // `agent_id` may be "self" for the calling agent. Users only (kPermissionDenied for an
  // agent): the admin, or a user who may read the referenced secret. kNotFound for an agent
  // that does not exist or is revoked, or a missing vault; kInvalidArgument naming the field
  // at fault; kAlreadyExists when the agent has a binding of that name. Audited binding.create.
  StatusOr<Binding> Create(const RequestContext& ctx, std::string_view agent_id,
                           CreateBindingRequest request);
  // The admin, the agent's owner, or the agent itself; kNotFound otherwise.
  StatusOr<std::vector<Binding>> List(const RequestContext& ctx, std::string_view agent_id);
  StatusOr<Binding> Get(const RequestContext& ctx, std::string_view agent_id,
                        std::string_view binding_id);
  // As Create (the caller must be able to read the secret referenced after the change).
  // Audited binding.update.
  StatusOr<Binding> Update(const RequestContext& ctx, std::string_view agent_id,
                           std::string_view binding_id, UpdateBindingRequest request);
  // The admin or the agent's owner. Audited binding.delete.
  Status Delete(const RequestContext& ctx, std::string_view agent_id, std::string_view binding_id);
  // Connects to base_url (HEAD) through the upstream client, without the credential, within
  // `timeout` (100 ms..30 s). An unreachable destination is a result, not an error.
  StatusOr<BindingTestResult> Test(const RequestContext& ctx, std::string_view agent_id,
                                   std::string_view binding_id, std::chrono::milliseconds timeout);
  // Writes `credential` as a new version of the referenced secret (needs write on it; its type
  // kept). Audited as the secret's own write (secret.write, with the version), the one event of
  // the request; a refusal before the write as binding.rotate_credential.
  StatusOr<Binding> RotateCredential(const RequestContext& ctx, std::string_view agent_id,
                                     std::string_view binding_id, SecretBuffer credential);

 private:
  // The agent, when it exists, is not revoked and the caller may see its bindings (admin,
  // owner, or itself when `allow_self`); kNotFound otherwise.
  StatusOr<Agent> VisibleAgent(const RequestContext& ctx, std::string_view agent_id,
                               bool allow_self);
  StatusOr<Binding> FindOwned(const Agent& agent, std::string_view binding_id);
  // Validates config and guardrails into their canonical forms and checks the caller may read
  // the referenced secret.
  Status Validate(const RequestContext& ctx, Binding& binding);

  ServiceDeps deps_;
  SecretService& secrets_;
  const gateway::EgressGuard guard_;
  gateway::UpstreamClient* upstream_;
};

// A binding name: [A-Za-z0-9_-]{1,64}. kInvalidArgument naming `name`.
Status ValidateBindingName(std::string_view name);

}  // namespace coffer
